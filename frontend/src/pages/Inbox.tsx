// The operator's inbox: every step awaiting an operator (manual tasks running) in
// every workflow, longest waiting first, with its instructions and a way to complete it.
import { useCallback, useEffect, useRef, useState } from "react";
import { api, attempt, type ApiError } from "../api/client";
import { isTaskEvent, isWorkflowEvent, type InboxItem, type LiveEvent } from "../api/types";
import { useCan } from "../auth/session";
import { CompleteDialog } from "../components/CompleteDialog";
import { LiveIndicator } from "../components/LiveIndicator";
import { StatusBadge } from "../components/StatusBadge";
import { formatDuration, formatTime, secondsBetween } from "../lib/format";
import { instructionsOf, outputsSchemaOf } from "../lib/outputs";
import { useLiveFeed, useThrottled } from "../live/useLive";
import { workflowHref } from "../router";

export function Inbox() {
  const canOperate = useCan("operator");
  const [items, setItems] = useState<InboxItem[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [open, setOpen] = useState<InboxItem | null>(null);
  const [now, setNow] = useState(() => new Date().toISOString());
  const generation = useRef(0);

  const load = useCallback(async () => {
    const mine = ++generation.current;
    const res = await attempt(() => api.GET("/api/inbox"));
    if (mine !== generation.current) return;
    if (res.ok) {
      setItems(res.data);
      setError(null);
    } else setError(res.error);
    setNow(new Date().toISOString());
  }, []);
  useEffect(() => {
    void load();
  }, [load]);
  const refetch = useThrottled(() => void load(), 400);
  const onEvent = useCallback(
    (e: LiveEvent) => {
      if (isTaskEvent(e) || isWorkflowEvent(e)) refetch();
    },
    [refetch],
  );
  const mode = useLiveFeed(onEvent, load, undefined, 3000);

  return (
    <section aria-labelledby="inbox-title">
      <div className="page-head">
        <h1 id="inbox-title">Inbox</h1>
        <LiveIndicator mode={mode} />
        {items && <span className="muted small" data-inbox-count={items.length}>{items.length === 1 ? "1 step awaits an operator" : `${items.length} steps await an operator`}</span>}
      </div>
      <p className="muted">Manual steps of every workflow that wait for a person, longest waiting first.</p>
      {!canOperate && (
        <p className="banner" role="note">
          Completing a step needs the operator role; you can see what waits.
        </p>
      )}
      {error && (
        <p className="banner banner-err" role="alert">
          Could not read the inbox: {error.message}
        </p>
      )}
      {items === null && !error && <p className="muted">Loading…</p>}
      {items && items.length === 0 && (
        <p className="empty" data-empty="inbox">
          Nothing awaits an operator.
        </p>
      )}
      {items && items.length > 0 && (
        <ul className="inbox" aria-label="Steps awaiting an operator">
          {items.map((item) => {
            const instructions = instructionsOf(item.params);
            const schema = outputsSchemaOf(item.params);
            const waited = secondsBetween(item.since, now);
            return (
              <li key={item.task_id} className="card inbox-item" data-inbox-task={item.task_name} data-workflow={item.workflow_id}>
                <div className="card-head">
                  <h2>
                    <a href={workflowHref(item.workflow_id, item.task_name)}>{item.task_name}</a>
                  </h2>
                  <StatusBadge status={item.workflow_status} small />
                  <span className="muted small">
                    in <a href={workflowHref(item.workflow_id)}>{item.workflow_name}</a> · submitted by {item.created_by}
                  </span>
                </div>
                <p className="muted small">
                  Waiting since {formatTime(item.since)}
                  {waited != null ? ` (${formatDuration(waited)})` : ""}
                  {item.attempt > 1 ? ` · attempt ${item.attempt}` : ""}
                </p>
                {instructions ? <p className="instructions">{instructions}</p> : <p className="muted">No instructions given.</p>}
                {schema && (
                  <p className="muted small">
                    Outputs asked for: {Object.keys((schema.properties as Record<string, unknown> | undefined) ?? {}).join(", ") || "see the form"}
                  </p>
                )}
                {canOperate && (
                  <div className="actions">
                    <button type="button" className="primary" onClick={() => setOpen(item)} aria-label={`Complete ${item.task_name} of ${item.workflow_name}`}>
                      Complete…
                    </button>
                  </div>
                )}
              </li>
            );
          })}
        </ul>
      )}
      {open && (
        <CompleteDialog
          step={open}
          onClose={() => setOpen(null)}
          onDone={() => {
            // done: its card goes now (so focus returns to the page's heading, not to a
            // button about to vanish), and the re-read confirms it
            setItems((list) => list?.filter((i) => i.task_id !== open.task_id) ?? list);
            void load();
          }}
        />
      )}
    </section>
  );
}
