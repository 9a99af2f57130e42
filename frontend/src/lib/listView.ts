// The workflow list's filters, sort and bulk actions. Status, name and labels go
// to the API (GET /api/workflows); submitter, date range, instrument and sort the
// list endpoint does not offer, so they apply here, to the workflows loaded. All
// of them live in the URL's query string, so a filtered list can be shared.
import { FINAL_WORKFLOW_STATUSES, isOneOf, WORKFLOW_STATUSES, type Workflow, type WorkflowStatus } from "../api/types";

export const SORTS = {
  newest: "newest first",
  oldest: "oldest first",
  name: "name (A–Z)",
  status: "status",
  longest: "longest running",
} as const;
export type Sort = keyof typeof SORTS;

export interface ListFilters {
  status: WorkflowStatus | "";
  q: string;
  labels: string[];
  /** created_by, exactly ("user:olga") */
  submitter: string;
  /** created on or after this day (YYYY-MM-DD, the browser's calendar) */
  from: string;
  /** created on or before this day */
  to: string;
  /** a task of it runs on this instrument */
  instrument: string;
  sort: Sort;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

export function parseFilters(query: URLSearchParams): ListFilters {
  const status = query.get("status");
  const sort = query.get("sort") ?? "";
  const day = (k: string) => (DAY.test(query.get(k) ?? "") ? query.get(k)! : "");
  return {
    status: isOneOf(WORKFLOW_STATUSES, status) ? status : "",
    q: query.get("q") ?? "",
    labels: query.getAll("label").filter((l) => /^[^=]+=/.test(l)),
    submitter: query.get("submitter") ?? "",
    from: day("from"),
    to: day("to"),
    instrument: query.get("instrument") ?? "",
    sort: sort in SORTS ? (sort as Sort) : "newest",
  };
}

/** Whether a filter the API does not apply is set (the list then says it filters what is loaded). */
export const filtersHere = (f: ListFilters) => Boolean(f.submitter || f.from || f.to || f.instrument || f.sort !== "newest");

/** The local calendar day of an ISO time. */
function dayOf(iso: string): string {
  const d = new Date(iso);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

function runSeconds(w: Workflow, now: number): number {
  if (!w.started_at) return -1;
  return ((w.finished_at ? Date.parse(w.finished_at) : now) - Date.parse(w.started_at)) / 1000;
}

/** The loaded workflows with the filters the API did not apply, in the chosen order. */
export function viewOf(items: Workflow[], f: ListFilters, now = Date.now()): Workflow[] {
  const shown = items.filter((w) => {
    if (f.submitter && w.created_by !== f.submitter) return false;
    if (f.from && dayOf(w.created_at) < f.from) return false;
    if (f.to && dayOf(w.created_at) > f.to) return false;
    if (f.instrument && !(w.tasks ?? []).some((t) => t.instrument === f.instrument)) return false;
    return true;
  });
  const order: Record<Sort, (a: Workflow, b: Workflow) => number> = {
    newest: () => 0, // as the API sends them
    oldest: (a, b) => Date.parse(a.created_at) - Date.parse(b.created_at),
    name: (a, b) => a.name.localeCompare(b.name),
    status: (a, b) => WORKFLOW_STATUSES.indexOf(a.status) - WORKFLOW_STATUSES.indexOf(b.status),
    longest: (a, b) => runSeconds(b, now) - runSeconds(a, now),
  };
  return f.sort === "newest" ? shown : [...shown].sort(order[f.sort]);
}

/** Everyone who submitted a loaded workflow, for the submitter filter. */
export const submittersOf = (items: Workflow[], current: string) => [...new Set([...items.map((w) => w.created_by), ...(current ? [current] : [])])].sort();

// --- bulk actions --------------------------------------------------------------

export type BulkVerb = "cancel" | "retry";

/** Cancel: any workflow not finished. Retry: a failed workflow, its failed tasks. */
export function bulkApplies(verb: BulkVerb, w: Workflow): boolean {
  if (verb === "cancel") return !isOneOf(FINAL_WORKFLOW_STATUSES, w.status);
  return w.status === "failed";
}

export interface BulkResult {
  id: string;
  name: string;
  ok: boolean;
  text: string;
}

/** What the bulk action sends: one call per workflow (cancel) or per failed task (retry). */
export interface BulkCalls {
  cancel: (id: string, reason: string) => Promise<{ ok: true; data: Workflow } | { ok: false; error: { status: number; message: string } }>;
  read: (id: string) => Promise<{ ok: true; data: Workflow } | { ok: false; error: { status: number; message: string } }>;
  retry: (id: string, task: string, reason: string) => Promise<{ ok: true; data: Workflow } | { ok: false; error: { status: number; message: string } }>;
}

const refused = (e: { status: number; message: string }) => `refused${e.status ? ` (HTTP ${e.status})` : ""}: ${e.message}`;

/** Run `verb` with one reason on each workflow in turn; a refusal of one does not stop the others. */
export async function runBulk(verb: BulkVerb, targets: Workflow[], reason: string, calls: BulkCalls, onResult?: (r: BulkResult) => void): Promise<BulkResult[]> {
  const results: BulkResult[] = [];
  const note = (r: BulkResult) => (results.push(r), onResult?.(r));
  for (const w of targets) {
    if (verb === "cancel") {
      const res = await calls.cancel(w.id, reason);
      note({ id: w.id, name: w.name, ok: res.ok, text: res.ok ? `now ${res.data.status}` : refused(res.error) });
      continue;
    }
    // the failed tasks as they are now, not as the list last saw them
    const now = await calls.read(w.id);
    if (!now.ok) {
      note({ id: w.id, name: w.name, ok: false, text: refused(now.error) });
      continue;
    }
    const failed = now.data.tasks.filter((t) => t.status === "failed").map((t) => t.name);
    if (!failed.length) {
      note({ id: w.id, name: w.name, ok: false, text: `no failed task to retry (it is ${now.data.status})` });
      continue;
    }
    const problems: string[] = [];
    let status: string = now.data.status;
    for (const task of failed) {
      const res = await calls.retry(w.id, task, reason);
      if (res.ok) status = res.data.status;
      else problems.push(`${task} ${refused(res.error)}`);
    }
    const retried = failed.length - problems.length;
    note({
      id: w.id,
      name: w.name,
      ok: problems.length === 0,
      text: `retried ${retried} of ${failed.length} failed task${failed.length === 1 ? "" : "s"} (${failed.join(", ")}); now ${status}${problems.length ? `; ${problems.join("; ")}` : ""}`,
    });
  }
  return results;
}
