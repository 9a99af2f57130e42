// Names for the API's shapes. Every type that the API documents comes from the
// generated schema.d.ts (scripts/gen-frontend-api.sh); never write them by hand.
import type { components, paths } from "./schema";

type Schemas = components["schemas"];

export type Workflow = Schemas["WorkflowOut"];
export type WorkflowPage = Schemas["WorkflowPage"];
export type Task = Schemas["TaskOut"];
export type Attempt = Schemas["AttemptOut"];
export type HistoryEntry = Schemas["HistoryEntry"];
export type Runner = Schemas["RunnerOut"];
export type WorkflowSpec = Schemas["WorkflowSpec"];
export type TaskSpec = Schemas["TaskSpec"];
export type ApiPaths = paths;

/** A schema the API will document once its issue lands; `Fallback` until then. */
type Generated<Name extends string, Fallback> = Name extends keyof Schemas ? Schemas[Name] : Fallback;

/**
 * The instrument registry (issue #4: GET /api/instruments, GET /api/instruments/{id}).
 * Until the API documents it, the contract of the issue, read tolerantly: the UI
 * also accepts the other field spellings normalised in lib/instruments.ts.
 */
export type Instrument = Generated<
  "InstrumentOut",
  {
    id: string;
    name: string;
    kind: string;
    capacity?: number;
    status: string;
    endpoint?: string | null;
    parameters_schema?: Record<string, unknown> | null;
    [extra: string]: unknown;
  }
>;

/** One envelope of GET /api/events (DESIGN §4). */
export interface LiveEvent {
  id?: string;
  type: string;
  occurred_at?: string;
  workflow_id?: string | null;
  task_id?: string | null;
  attempt?: number | null;
  data?: { status?: string; name?: string; executor?: string; [key: string]: unknown };
}
