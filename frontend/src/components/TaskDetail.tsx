import { useMemo } from "react";
import type { Task } from "../api/types";
import { formatClock, formatDuration, secondsBetween } from "../lib/format";
import { detectViews } from "../lib/shapes";
import { OutputViewer } from "./Charts";
import { StatusBadge } from "./StatusBadge";

export type TaskVerb = "retry" | "skip" | "complete";

export function allowedTaskActions(task: Task): Record<TaskVerb, boolean> {
  return {
    retry: ["failed", "cancelled"].includes(task.status),
    skip: ["failed", "pending", "waiting", "queued"].includes(task.status),
    complete: task.executor === "manual" && task.status === "running",
  };
}

export function TaskDetail({
  task,
  onAction,
  onClose,
}: {
  task: Task;
  onAction: (verb: TaskVerb) => void;
  onClose: () => void;
  workflowEnded?: boolean;
}) {
  const views = useMemo(() => detectViews(task.outputs), [task.outputs]);
  const allowed = allowedTaskActions(task);
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
          <dd>
            {task.attempt} of {task.max_attempts}
          </dd>
        </div>
        <div>
          <dt>Depends on</dt>
          <dd>{task.depends_on.length ? task.depends_on.join(", ") : "—"}</dd>
        </div>
        <div>
          <dt>Queued / started / finished</dt>
          <dd>
            {formatClock(task.queued_at)} / {formatClock(task.started_at)} / {formatClock(task.finished_at)}
          </dd>
        </div>
        <div>
          <dt>Ran for</dt>
          <dd>{formatDuration(ran)}</dd>
        </div>
        {task.runner_id && (
          <div>
            <dt>Runner</dt>
            <dd className="mono">{task.runner_id}</dd>
          </div>
        )}
        {task.retry_at && (
          <div>
            <dt>Next retry</dt>
            <dd>{formatClock(task.retry_at)}</dd>
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
        <p className="muted">{["pending", "waiting", "queued", "running"].includes(task.status) ? "No outputs yet." : "No outputs."}</p>
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
                  <td className="nowrap">{formatClock(a.started_at)}</td>
                  <td className="nowrap">{formatDuration(secondsBetween(a.started_at, a.finished_at))}</td>
                  <td className="mono pre-wrap">{a.error ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}
