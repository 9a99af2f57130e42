// Names for the API's shapes and value lists. Every type and list that the API
// documents comes from the generated schema.ts (scripts/gen-frontend-api.sh);
// never write them by hand.
import {
  activeTaskStatusValues,
  activeWorkflowStatusValues,
  finalTaskStatusValues,
  finalWorkflowStatusValues,
  instrumentStatusValues,
  signRequestMeaningValues,
  taskSpecExecutorValues,
  type components,
  type paths,
} from "./schema";

type Schemas = components["schemas"];

export type Workflow = Schemas["WorkflowOut"];
export type WorkflowPage = Schemas["WorkflowPage"];
/** A workflow as the list shows it: without its tasks. */
export type WorkflowSummary = Schemas["WorkflowSummary"];
export type Task = Schemas["TaskOut"];
export type Attempt = Schemas["AttemptOut"];
export type HistoryEntry = Schemas["HistoryEntry"];
export type Runner = Schemas["RunnerOut"];
export type WorkflowSpec = Schemas["WorkflowSpec"];
export type TaskSpec = Schemas["TaskSpec"];
/** An instrument of the registry, with the tasks on it now and its queue. */
export type Instrument = Schemas["InstrumentOut"];
export type InstrumentTask = Schemas["InstrumentTask"];
/** An instrument's recent runs and utilisation (GET /api/instruments/{id}/runs). */
export type InstrumentRuns = Schemas["InstrumentRuns"];
export type InstrumentRun = Schemas["InstrumentRun"];
export type InstrumentPatch = Schemas["InstrumentPatch"];
/** A step awaiting an operator (GET /api/inbox). */
export type InboxItem = Schemas["InboxItem"];
/** GET /api/system: each service's readiness, the outbox backlog, the dead letters. */
export type SystemState = Schemas["SystemOut"];
export type ServiceReadiness = Schemas["ServiceReadiness"];
export type ApiPaths = paths;

// The audit trail (issue #12)
/** A signature: who (user name and full name), meaning what, when, over which results; stale once they changed. */
export type Signature = Schemas["SignatureOut"];
export type SignRequest = Schemas["SignRequest"];
export type Meaning = SignRequest["meaning"];
/** Whether a finished workflow's results are released, or what they wait for. */
export type Release = Workflow["release"];
/** GET /api/audit/verify: ok and how many rows were proven, or the first break. */
export type Verification = Schemas["AuditVerdict"];
export const MEANINGS: readonly Meaning[] = signRequestMeaningValues;

export type WorkflowStatus = Schemas["WorkflowStatus"];
export type FinalWorkflowStatus = Schemas["FinalWorkflowStatus"];
export type TaskStatus = Schemas["TaskStatus"];
export type FinalTaskStatus = Schemas["FinalTaskStatus"];
export type InstrumentStatus = Schemas["InstrumentStatus"];
/** Any state the API names; styles.css colours each (`.status-<name>`); "signed" marks a signature in the history. */
export type Status = WorkflowStatus | TaskStatus | InstrumentStatus | HistoryEntry["to_status"];
/** An executor's name (an inline enum: TaskSpec, TaskOut and InstrumentTask each list the same names). */
export type Executor = TaskSpec["executor"];

// Each state once, in lifecycle order (laf_core.contracts.states): the active ones, then the final ones.
export const WORKFLOW_STATUSES: readonly WorkflowStatus[] = [...activeWorkflowStatusValues, ...finalWorkflowStatusValues];
export const FINAL_WORKFLOW_STATUSES: readonly FinalWorkflowStatus[] = finalWorkflowStatusValues;
export const TASK_STATUSES: readonly TaskStatus[] = [...activeTaskStatusValues, ...finalTaskStatusValues];
export const FINAL_TASK_STATUSES: readonly FinalTaskStatus[] = finalTaskStatusValues;
export const INSTRUMENT_STATUSES: readonly InstrumentStatus[] = instrumentStatusValues;
export const EXECUTORS: readonly Executor[] = taskSpecExecutorValues;

/** Whether `value` is one of `names` (and so of their type): a final state, a status read from the URL. */
export function isOneOf<T extends string>(names: readonly T[], value: string | null | undefined): value is T {
  return (names as readonly (string | null | undefined)[]).includes(value);
}

/**
 * One envelope of GET /api/events (DESIGN §4). The stream is not described by the
 * OpenAPI document, so the envelope is written here; its names are the generated
 * ones: the event type is `<kind>.<status>` and `data.status` is that status.
 */
interface Envelope<Kind extends string, Status extends string, Data = unknown> {
  id?: string;
  type: `${Kind}.${Status}`;
  occurred_at?: string;
  workflow_id?: string | null;
  task_id?: string | null;
  attempt?: number | null;
  data?: { status?: Status; name?: string } & Data;
}
export type WorkflowEvent = Envelope<"workflow", WorkflowStatus>;
export type TaskEvent = Envelope<"task", TaskStatus, { executor?: Executor; retry_at?: string | null }>;
export type InstrumentEvent = Envelope<"instrument", InstrumentStatus, { id?: string; capacity?: number }>;
export type LiveEvent = WorkflowEvent | TaskEvent | InstrumentEvent;

export const isWorkflowEvent = (e: LiveEvent): e is WorkflowEvent => e.type.startsWith("workflow.");
export const isTaskEvent = (e: LiveEvent): e is TaskEvent => e.type.startsWith("task.");
export const isInstrumentEvent = (e: LiveEvent): e is InstrumentEvent => e.type.startsWith("instrument.");
