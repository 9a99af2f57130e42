// Live updates, batched: the events that arrived since the last frame applied to
// the workflow in one pass (one render however many tasks changed).
import { FINAL_TASK_STATUSES, isOneOf, isTaskEvent, isWorkflowEvent, TASK_STATUSES, type LiveEvent, type TaskStatus, type Workflow } from "../api/types";

/** An event older than what the page last read (the stream and the re-read race) must not move a
 * task back: within one attempt a task only moves forward (pending → … → a final state); a new
 * attempt starts again. An operator's retry, which moves back within an attempt, is picked up by
 * the re-read that every batch of events triggers. */
function isNewer(current: { status: TaskStatus; attempt: number }, next: { status: TaskStatus; attempt?: number | null }): boolean {
  const attempt = next.attempt ?? current.attempt;
  if (attempt !== current.attempt) return attempt > current.attempt;
  if (isOneOf(FINAL_TASK_STATUSES, current.status)) return false;
  return TASK_STATUSES.indexOf(next.status) >= TASK_STATUSES.indexOf(current.status);
}

export function applyEvents(workflow: Workflow, events: LiveEvent[]): Workflow {
  let status = workflow.status;
  const byId = new Map<string, { status: Workflow["tasks"][number]["status"]; attempt?: number | null }>();
  const byName = new Map<string, { status: Workflow["tasks"][number]["status"]; attempt?: number | null }>();
  for (const e of events) {
    if (e.workflow_id !== workflow.id) continue;
    if (isWorkflowEvent(e) && e.data?.status) status = e.data.status;
    else if (isTaskEvent(e) && e.data?.status) {
      const change = { status: e.data.status, attempt: e.attempt };
      if (e.task_id) byId.set(e.task_id, change);
      else if (e.data.name) byName.set(e.data.name, change);
    }
  }
  if (!byId.size && !byName.size) return status === workflow.status ? workflow : { ...workflow, status };
  let changed = false;
  const tasks = workflow.tasks.map((t) => {
    const c = byId.get(t.id) ?? byName.get(t.name);
    if (!c || (c.status === t.status && (c.attempt ?? t.attempt) === t.attempt) || !isNewer(t, c)) return t;
    changed = true;
    return { ...t, status: c.status, attempt: c.attempt ?? t.attempt };
  });
  return { ...workflow, status, tasks: changed ? tasks : workflow.tasks };
}
