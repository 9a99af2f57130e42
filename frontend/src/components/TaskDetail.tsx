import { useMemo } from "react";
import { useCan } from "../auth/session";
import { FINAL_TASK_STATUSES, isOneOf, type Task, type TaskStatus, type WorkflowStatus } from "../api/types";
import { formatDuration, formatTime, secondsBetween } from "../lib/format";
import { describePlace, type PlaceInLine, type Span } from "../lib/waiting";
import { detectViews } from "../lib/shapes";
import { OutputViewer } from "./Charts";
import { StatusBadge } from "./StatusBadge";

export type TaskVerb = "retry" | "skip" | "complete";

/** The operator actions each task state allows, as the API's guarded transitions do
 * (laf_retry_task, laf_skip_task, laf_complete_task; others answer 409). Every state is
 * named, so a new or renamed one fails tsc until it is decided here. */
const ACTIONS: Record<TaskStatus, readonly TaskVerb[]> = {
  pending: ["skip"],
  waiting: ["skip"],
  queued: ["skip"],
  running: ["complete"],
  succeeded: [],
  failed: ["retry", "skip"],
  cancelled: [],
  skipped: [],
};

/** What the task's state allows, and its workflow's: nothing once the workflow was cancelled
 * (the API refuses retry and skip then: "the workflow was cancelled"). */
export function allowedTaskActions(task: Task, workflowStatus?: WorkflowStatus): Record<TaskVerb, boolean> {
  const allowed = workflowStatus === "cancelled" ? [] : ACTIONS[task.status];
  return {
    retry: allowed.includes("retry"),
    skip: allowed.includes("skip"),
    // only a manual step waits for an operator to complete it
    complete: task.executor === "manual" && allowed.includes("complete"),
  };
}

export function TaskDetail({
  task,
  onAction,
  onClose,
  workflowStatus,
  place,
  waits,
}: {
  task: Task;
  onAction: (verb: TaskVerb) => void;
  onClose: () => void;
  workflowStatus?: WorkflowStatus;
  /** where it stands in its instrument's line */
  place?: PlaceInLine;
  /** its spans waiting for the instrument */
  waits?: Span[];
}) {
  const canOperate = useCan("operator");
  const views = useMemo(() => detectViews(task.outputs), [task.outputs]);
  const allowed = allowedTaskActions(task, workflowStatus);
  const waitedMs = (waits ?? []).reduce((s, w) => s + ((w.end ?? Date.now()) - w.start), 0);
  const instructions = typeof task.params.instructions === "string" ? task.params.instructions : null;
  const ran = secondsBetween(task.started_at, task.finished_at);
  return (
    <div className="card task-detail" aria-labelledby="task-title" data-task-detail={task.name}>
      <div className="card-head">
        <h2 id="task-title">
          Task <span className="mono">{task.name}</span>
        </h2>
        <StatusBadge status={task.status} />
        <div className="actions" role="group" aria-label={`Actions on task ${task.name}`}>
          {canOperate && (
            <>
              <button type="button" onClick={() => onAction("retry")} disabled={!allowed.retry} title="Run a failed task again">
                Retry
              </button>
              <button type="button" onClick={() => onAction("skip")} disabled={!allowed.skip} title="Count the task as done without outputs">
                Skip
              </button>
              {task.executor === "manual" && (
                <button type="button" className="primary" onClick={() => onAction("complete")} disabled={!allowed.complete}>
                  Complete
                </button>
              )}
            </>
          )}
          <button type="button" onClick={onClose} aria-label="Close task details">
            ×
          </button>
        </div>
      </div>
      <dl className="facts">
        <div>
          <dt>Executor</dt>
          <dd>{task.executor}</dd>
        </div>
        {task.instrument && (
          <div>
            <dt>Instrument</dt>
            <dd>
              <a href="#/lab">{task.instrument}</a>
            </dd>
          </div>
        )}
        <div>
          <dt>Attempt</dt>
          <dd>{task.attempt ? `${task.attempt} of ${task.max_attempts}` : `not started yet (up to ${task.max_attempts})`}</dd>
        </div>
        {place && (
          <div data-place-in-line={place.position ?? 0}>
            <dt>In line</dt>
            <dd>
              <strong>{describePlace(place)}</strong>
              {place.ahead.length > 0 && <span className="muted"> · ahead: {place.ahead.map((a) => `${a.task_name} (${a.workflow_name})`).join(", ")}</span>}
              {place.position !== null && place.holding.length > 0 && <span className="muted"> · on it now: {place.holding.map((a) => `${a.task_name} (${a.workflow_name})`).join(", ")}</span>}
            </dd>
          </div>
        )}
        {waitedMs > 0 && (
          <div>
            <dt>Waited for the instrument</dt>
            <dd>
              {formatDuration(waitedMs / 1000)}
              {waits?.some((w) => w.end === null) ? " so far" : ""}
            </dd>
          </div>
        )}
        <div>
          <dt>Depends on</dt>
          <dd>{task.depends_on.length ? task.depends_on.join(", ") : "—"}</dd>
        </div>
        {task.queued_at && (
          <div>
            <dt>Queued</dt>
            <dd>{formatTime(task.queued_at)}</dd>
          </div>
        )}
        {task.started_at && (
          <div>
            <dt>Started</dt>
            <dd>{formatTime(task.started_at)}</dd>
          </div>
        )}
        {task.finished_at && (
          <div>
            <dt>Finished</dt>
            <dd>{formatTime(task.finished_at)}</dd>
          </div>
        )}
        {ran !== null && (
          <div>
            <dt>Ran for</dt>
            <dd>{formatDuration(ran)}</dd>
          </div>
        )}
        {task.runner_id && (
          <div>
            <dt>Runner</dt>
            <dd className="mono">{task.runner_id}</dd>
          </div>
        )}
        {task.retry_at && (
          <div>
            <dt>Next retry</dt>
            <dd>{formatTime(task.retry_at)}</dd>
          </div>
        )}
      </dl>
      {instructions && (
        <div className={`instructions${task.status === "running" ? " awaiting" : ""}`} role="note">
          <strong>{task.status === "running" && task.executor === "manual" ? "Awaiting an operator: " : "Instructions: "}</strong>
          {instructions}
        </div>
      )}
      {task.error && (
        <div className="banner banner-err" role="note">
          <strong>Error:</strong> <span className="mono pre-wrap">{task.error}</span>
        </div>
      )}
      <h3>Outputs</h3>
      {task.outputs == null || Object.keys(task.outputs).length === 0 ? (
        <p className="muted">{isOneOf(FINAL_TASK_STATUSES, task.status) ? "No outputs." : "No outputs yet."}</p>
      ) : (
        <>
          <div className="views">
            {views.map((v, i) => (
              <OutputViewer key={`${v.kind}-${i}`} view={v} />
            ))}
          </div>
          <details>
            <summary>Outputs as JSON</summary>
            <pre className="json">{JSON.stringify(task.outputs, null, 2)}</pre>
          </details>
        </>
      )}
      <details>
        <summary>Parameters</summary>
        <pre className="json">{JSON.stringify(task.params, null, 2)}</pre>
      </details>
      {task.attempts && task.attempts.length > 0 && (
        <>
          <h3>Attempts</h3>
          <div className="table-scroll x">
          <table className="data compact">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Outcome</th>
                <th scope="col">Runner</th>
                <th scope="col">Started</th>
                <th scope="col">Took</th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              {task.attempts.map((a) => (
                <tr key={a.attempt}>
                  <td className="num">{a.attempt}</td>
                  <td>
                    <StatusBadge status={a.status} small />
                  </td>
                  <td className="mono">{a.runner_id ?? "—"}</td>
                  <td className="nowrap">{formatTime(a.started_at)}</td>
                  <td className="nowrap">{formatDuration(secondsBetween(a.started_at, a.finished_at))}</td>
                  <td className="mono pre-wrap">{a.error ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
          </div>
        </>
      )}
    </div>
  );
}
