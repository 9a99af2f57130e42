import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, attempt, send, type ApiError } from "../api/client";
import type { HistoryEntry, LiveEvent, Task, Workflow } from "../api/types";
import { Dag } from "../components/Dag";
import { ActionDialog, type ActionRequest } from "../components/Dialog";
import { LiveIndicator } from "../components/LiveIndicator";
import { StatusBadge } from "../components/StatusBadge";
import { Timeline } from "../components/Timeline";
import { TaskDetail } from "../components/TaskDetail";
import { FINAL_WORKFLOW, formatClock, formatDuration, formatTime, secondsBetween } from "../lib/format";
import { useLiveFeed, useThrottled } from "../live/useLive";
import { navigate, workflowHref } from "../router";

const LEGEND = ["pending", "waiting", "queued", "running", "succeeded", "failed", "skipped", "cancelled"];

function describeWorkflow(data: unknown): string {
  const status = (data as { status?: string } | null)?.status;
  return status ? `Accepted: the workflow is now ${status}.` : "Accepted.";
}

export function WorkflowPage({ id, task }: { id: string; task: string | null }) {
  const [workflow, setWorkflow] = useState<Workflow | null>(null);
  const [history, setHistory] = useState<HistoryEntry[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [action, setAction] = useState<ActionRequest | null>(null);
  const [now, setNow] = useState(() => Date.now());
  const generation = useRef(0);

  const load = useCallback(async () => {
    const mine = ++generation.current;
    const [w, h] = await Promise.all([
      attempt(() => api.GET("/api/workflows/{workflow_id}", { params: { path: { workflow_id: id } } })),
      attempt(() => api.GET("/api/workflows/{workflow_id}/history", { params: { path: { workflow_id: id } } })),
    ]);
    if (mine !== generation.current) return;
    if (w.ok) {
      setWorkflow(w.data);
      setError(null);
    } else setError(w.error);
    if (h.ok) setHistory(h.data);
    setNow(Date.now());
  }, [id]);

  useEffect(() => {
    setWorkflow(null);
    setHistory(null);
    void load();
  }, [load]);

  const refetch = useThrottled(() => void load(), 250);
  const onEvent = useCallback(
    (e: LiveEvent) => {
      if (e.workflow_id !== id) return;
      const status = e.data?.status;
      if (status) {
        setWorkflow((w) => {
          if (!w) return w;
          if (e.type.startsWith("workflow.")) return { ...w, status };
          if (e.type.startsWith("task."))
            return {
              ...w,
              tasks: w.tasks.map((t) =>
                t.id === e.task_id || (!e.task_id && t.name === e.data?.name) ? { ...t, status, attempt: e.attempt ?? t.attempt } : t,
              ),
            };
          return w;
        });
      }
      refetch();
    },
    [id, refetch],
  );
  const mode = useLiveFeed(onEvent, load, id, 1500);

  // running bars of the timeline grow while anything runs
  const active = workflow && !FINAL_WORKFLOW.has(workflow.status);
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [active]);

  const selected = useMemo(() => {
    if (!workflow) return null;
    if (task) return workflow.tasks.find((t) => t.name === task) ?? null;
    return null;
  }, [workflow, task]);

  const select = (name: string) => navigate(workflowHref(id, name === task ? undefined : name), true);

  const workflowAction = (verb: "cancel" | "pause" | "resume") => {
    const titles = { cancel: "Cancel workflow", pause: "Pause workflow", resume: "Resume workflow" };
    const intros = {
      cancel: "No new task starts, running tasks are stopped and the workflow ends cancelled.",
      pause: "Nothing new starts; running tasks finish. Resume continues where it stopped.",
      resume: "Tasks whose dependencies are met start again.",
    };
    setAction({
      title: titles[verb],
      intro: (
        <p>
          {intros[verb]} <strong>{workflow?.name}</strong>
        </p>
      ),
      confirmLabel: titles[verb],
      danger: verb === "cancel",
      run: (reason) => send("POST", `/api/workflows/${encodeURIComponent(id)}/${verb}`, { reason }),
      describe: describeWorkflow,
    });
  };

  const taskAction = (t: Task, verb: "retry" | "skip" | "complete") => {
    const intros = {
      retry: "The task, and the tasks skipped because of it, run again; the workflow returns to running.",
      skip: "The task counts as done, without outputs; its dependents may start.",
      complete: "Finish this manual step with its outputs.",
    };
    setAction({
      title: `${verb[0].toUpperCase()}${verb.slice(1)} task ${t.name}`,
      intro: <p>{intros[verb]}</p>,
      confirmLabel: `${verb[0].toUpperCase()}${verb.slice(1)} task`,
      danger: verb === "skip",
      withOutputs: verb === "complete",
      run: (reason, outputs) =>
        send("POST", `/api/workflows/${encodeURIComponent(id)}/tasks/${encodeURIComponent(t.name)}/${verb}`, verb === "complete" ? { reason, outputs } : { reason }),
      describe: (data) => {
        const d = data as { status?: string; tasks?: Task[] } | null;
        const after = d?.tasks?.find((x) => x.name === t.name)?.status;
        return after ? `Accepted: task ${t.name} is now ${after}.` : d?.status ? `Accepted: the workflow is now ${d.status}.` : "Accepted.";
      },
    });
  };

  if (error && !workflow)
    return (
      <section>
        <h1>Workflow</h1>
        <p className="banner banner-err" role="alert">
          {error.status === 404 ? `No workflow with id ${id}.` : `Could not read the workflow: ${error.message}`}
        </p>
        <a href="#/workflows">Back to the list</a>
      </section>
    );
  if (!workflow) return <p className="muted">Loading…</p>;

  const ended = FINAL_WORKFLOW.has(workflow.status);
  const duration = workflow.started_at ? secondsBetween(workflow.started_at, workflow.finished_at ?? new Date(now).toISOString()) : null;
  return (
    <section aria-labelledby="wf-title" className="workflow-page" data-workflow-status={workflow.status}>
      <nav className="crumbs" aria-label="Breadcrumb">
        <a href="#/workflows">Workflows</a> / <span>{workflow.name}</span>
      </nav>
      <div className="page-head">
        <h1 id="wf-title">{workflow.name}</h1>
        <StatusBadge status={workflow.status} />
        <LiveIndicator mode={mode} />
        <div className="actions" role="group" aria-label="Workflow actions">
          <button type="button" onClick={() => workflowAction("pause")} disabled={ended || workflow.status === "paused"}>
            Pause
          </button>
          <button type="button" onClick={() => workflowAction("resume")} disabled={workflow.status !== "paused"}>
            Resume
          </button>
          <button type="button" className="danger" onClick={() => workflowAction("cancel")} disabled={ended}>
            Cancel
          </button>
        </div>
      </div>
      {error && (
        <p className="banner banner-err" role="alert">
          Could not refresh: {error.message}
        </p>
      )}
      <dl className="facts">
        <div>
          <dt>Tasks</dt>
          <dd>
            {workflow.progress.total - workflow.progress.unfinished}/{workflow.progress.total} finished
            {workflow.progress.failed ? `, ${workflow.progress.failed} failed` : ""}
          </dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>
            {formatTime(workflow.created_at)} by {workflow.created_by}
          </dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{formatDuration(duration)}</dd>
        </div>
        <div>
          <dt>Id</dt>
          <dd>
            <code>{workflow.id}</code>
          </dd>
        </div>
        {Object.keys(workflow.labels).length > 0 && (
          <div>
            <dt>Labels</dt>
            <dd className="chips">
              {Object.entries(workflow.labels).map(([k, v]) => (
                <span className="chip" key={k}>
                  {k}={v}
                </span>
              ))}
            </dd>
          </div>
        )}
      </dl>
      {workflow.description && <p className="description">{workflow.description}</p>}

      <div className="card">
        <div className="card-head">
          <h2>Graph</h2>
          <ul className="legend-states" aria-label="Colours">
            {LEGEND.map((s) => (
              <li key={s}>
                <i className={`swatch status-${s}`} aria-hidden="true" /> {s}
              </li>
            ))}
          </ul>
        </div>
        <p className="hint">Select a task (click, or Tab then Enter) to see its outputs, error and actions.</p>
        <Dag tasks={workflow.tasks} selected={selected?.name} onSelect={select} label={`Task graph of ${workflow.name}`} />
      </div>

      {selected ? (
        <TaskDetail task={selected} onAction={(verb) => taskAction(selected, verb)} onClose={() => select(selected.name)} workflowEnded={ended} />
      ) : null}

      <div className="card">
        <h2>Timeline of attempts</h2>
        <Timeline workflow={workflow} now={now} />
      </div>

      <div className="card">
        <h2>History</h2>
        {history === null ? (
          <p className="muted">Loading…</p>
        ) : (
          <div className="table-scroll">
            <table className="data compact history">
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Task</th>
                  <th scope="col">Attempt</th>
                  <th scope="col">Change</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {history.map((h) => (
                  <tr key={h.id}>
                    <td className="nowrap" title={h.at}>
                      {formatClock(h.at)}
                    </td>
                    <td>{h.task_name ?? <em>workflow</em>}</td>
                    <td className="num">{h.attempt ?? ""}</td>
                    <td className="nowrap">
                      {h.from_status ? <StatusBadge status={h.from_status} small /> : <span className="muted">new</span>} →{" "}
                      <StatusBadge status={h.to_status} small />
                    </td>
                    <td>{h.actor}</td>
                    <td className="reason">{h.reason ?? ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
      {action && <ActionDialog request={action} onClose={() => setAction(null)} onDone={() => void load()} />}
    </section>
  );
}
