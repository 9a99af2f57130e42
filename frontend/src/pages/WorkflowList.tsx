import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useCan } from "../auth/session";
import { api, attempt, type ApiError } from "../api/client";
import { FINAL_WORKFLOW_STATUSES, isOneOf, isTaskEvent, isWorkflowEvent, WORKFLOW_STATUSES, type LiveEvent, type Workflow } from "../api/types";
import { BulkDialog } from "../components/BulkDialog";
import { LiveIndicator } from "../components/LiveIndicator";
import { ReleaseBadge } from "../components/ReleaseBadge";
import { StatusBadge } from "../components/StatusBadge";
import { formatDuration, formatTime, secondsBetween } from "../lib/format";
import { loadRegistry } from "../lib/instruments";
import { bulkApplies, filtersHere, parseFilters, SORTS, submittersOf, viewOf, type BulkVerb, type Sort } from "../lib/listView";
import { useLiveFeed, useThrottled } from "../live/useLive";
import { navigate, workflowHref } from "../router";

const PAGE = 50;

function Progress({ w }: { w: Workflow }) {
  const { total, unfinished, failed } = w.progress;
  const done = total - unfinished;
  const ok = Math.max(0, done - failed);
  return (
    <div className="progress" aria-label={`${done} of ${total} tasks finished${failed ? `, ${failed} failed` : ""}`}>
      <div className="progress-bar" aria-hidden="true">
        <span className="ok" style={{ width: `${(ok / Math.max(1, total)) * 100}%` }} />
        <span className="bad" style={{ width: `${(failed / Math.max(1, total)) * 100}%` }} />
      </div>
      <span className="progress-text">
        {done}/{total}
        {failed ? <span className="text-bad"> · {failed} failed</span> : null}
      </span>
    </div>
  );
}

/** The list asks for `include=tasks` (filters by instrument and bulk retry need them). */
function withTasks<T extends { tasks?: unknown[] | null }>(items: T[]): (T & { tasks: NonNullable<T["tasks"]> })[] {
  return items.map((w) => ({ ...w, tasks: (w.tasks ?? []) as NonNullable<T["tasks"]> }));
}

export function WorkflowList({ query }: { query: URLSearchParams }) {
  const canSubmit = useCan("operator");
  // a status the API does not know filters nothing; an unknown sort is the API's order
  const filters = parseFilters(query);
  const { status, q, labels } = filters;
  const labelKey = labels.join("\u0000");
  const [selected, setSelected] = useState<Set<string>>(() => new Set());
  const [bulk, setBulk] = useState<BulkVerb | null>(null);
  const [instruments, setInstruments] = useState<string[]>([]);
  useEffect(() => {
    void loadRegistry().then((r) => setInstruments(r.instruments.map((i) => i.id)));
  }, []);
  const [search, setSearch] = useState(q);
  const [items, setItems] = useState<Workflow[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const shown = useRef(PAGE);
  const generation = useRef(0);

  const load = useCallback(async () => {
    const mine = ++generation.current;
    const res = await attempt(() =>
      api.GET("/api/workflows", {
        params: { query: { status: status || undefined, q: q || undefined, label: labels.length ? labels : undefined, limit: Math.min(200, Math.max(PAGE, shown.current)), include: "tasks" } },
      }),
    );
    if (mine !== generation.current) return;
    if (res.ok) {
      setItems(withTasks(res.data.items));
      setNext(res.data.next_cursor ?? null);
      setError(null);
    } else setError(res.error);
  }, [status, q, labelKey]); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    shown.current = PAGE;
    setItems(null);
    void load();
  }, [load]);

  // keep the search box and the hash in step (typing updates the hash after a pause)
  useEffect(() => setSearch(q), [q]);
  useEffect(() => {
    if (search === q) return;
    const t = setTimeout(() => setFilter("q", search), 250);
    return () => clearTimeout(t);
  }, [search]); // eslint-disable-line react-hooks/exhaustive-deps

  const refetch = useThrottled(() => void load(), 300);
  const onEvent = useCallback(
    (e: LiveEvent) => {
      if (isWorkflowEvent(e) && e.workflow_id && e.data?.status) {
        const status = e.data.status;
        setItems((list) => list?.map((w) => (w.id === e.workflow_id ? { ...w, status } : w)) ?? list);
      }
      if (isWorkflowEvent(e) || isTaskEvent(e)) refetch();
    },
    [refetch],
  );
  const mode = useLiveFeed(onEvent, load, undefined, 2000);

  const view = useMemo(() => viewOf(items ?? [], filters), [items, query.toString()]); // eslint-disable-line react-hooks/exhaustive-deps
  const chosen = view.filter((w) => selected.has(w.id));
  const can = (verb: BulkVerb) => chosen.some((w) => bulkApplies(verb, w));
  const allShown = view.length > 0 && view.every((w) => selected.has(w.id));
  const toggle = (id: string) =>
    setSelected((now) => {
      const next = new Set(now);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  function setFilter(key: string, value: string) {
    // from the hash as it is now: a debounced search must not undo a filter chosen meanwhile
    const params = new URLSearchParams(window.location.hash.split("?", 2)[1] ?? "");
    if (value) params.set(key, value);
    else params.delete(key);
    const s = params.toString();
    navigate(`#/workflows${s ? `?${s}` : ""}`, true);
  }

  /** A label chip adds its label to the filter (or, in the filter, removes it). */
  function toggleLabel(label: string) {
    const params = new URLSearchParams(window.location.hash.split("?", 2)[1] ?? "");
    const now = params.getAll("label");
    params.delete("label");
    for (const l of now.includes(label) ? now.filter((x) => x !== label) : [...now, label]) params.append("label", l);
    const s = params.toString();
    navigate(`#/workflows${s ? `?${s}` : ""}`, true);
  }

  async function loadMore() {
    if (!next) return;
    setLoadingMore(true);
    const res = await attempt(() =>
      api.GET("/api/workflows", { params: { query: { status: status || undefined, q: q || undefined, label: labels.length ? labels : undefined, limit: PAGE, cursor: next, include: "tasks" } } }),
    );
    setLoadingMore(false);
    if (res.ok) {
      setItems((list) => {
        const merged = [...(list ?? []), ...withTasks(res.data.items).filter((w) => !list?.some((x) => x.id === w.id))];
        shown.current = merged.length;
        return merged;
      });
      setNext(res.data.next_cursor ?? null);
    } else setError(res.error);
  }

  return (
    <section aria-labelledby="list-title">
      <div className="page-head">
        <h1 id="list-title">Workflows</h1>
        <LiveIndicator mode={mode} />
        {canSubmit && (
          <a className="button primary" href="#/new">
            New workflow
          </a>
        )}
      </div>
      <form className="filters" role="search" onSubmit={(e) => (e.preventDefault(), setFilter("q", search))}>
        <div className="field inline">
          <label htmlFor="filter-status">Status</label>
          <select id="filter-status" value={status} onChange={(e) => setFilter("status", e.target.value)}>
            <option value="">all</option>
            {WORKFLOW_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div className="field inline grow">
          <label htmlFor="filter-q">Search by name</label>
          <input id="filter-q" type="search" value={search} placeholder="e.g. assay" onChange={(e) => setSearch(e.target.value)} />
        </div>
        <div className="field inline">
          <label htmlFor="filter-submitter">Submitter</label>
          <select id="filter-submitter" value={filters.submitter} onChange={(e) => setFilter("submitter", e.target.value)}>
            <option value="">anyone</option>
            {submittersOf(items ?? [], filters.submitter).map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div className="field inline">
          <label htmlFor="filter-instrument">Instrument</label>
          <select id="filter-instrument" value={filters.instrument} onChange={(e) => setFilter("instrument", e.target.value)}>
            <option value="">any</option>
            {[...new Set([...instruments, ...(filters.instrument ? [filters.instrument] : [])])].map((i) => (
              <option key={i} value={i}>
                {i}
              </option>
            ))}
          </select>
        </div>
        <div className="field inline">
          <label htmlFor="filter-from">Created from</label>
          <input id="filter-from" type="date" value={filters.from} max={filters.to || undefined} onChange={(e) => setFilter("from", e.target.value)} />
        </div>
        <div className="field inline">
          <label htmlFor="filter-to">to</label>
          <input id="filter-to" type="date" value={filters.to} min={filters.from || undefined} onChange={(e) => setFilter("to", e.target.value)} />
        </div>
        <div className="field inline">
          <label htmlFor="filter-sort">Sort</label>
          <select id="filter-sort" value={filters.sort} onChange={(e) => setFilter("sort", e.target.value === "newest" ? "" : (e.target.value as Sort))}>
            {Object.entries(SORTS).map(([k, label]) => (
              <option key={k} value={k}>
                {label}
              </option>
            ))}
          </select>
        </div>
        {labels.length > 0 && (
          <div className="chips" role="group" aria-label="Label filters">
            {labels.map((l) => (
              <button type="button" key={l} className="chip chip-on" onClick={() => toggleLabel(l)} aria-label={`Remove label filter ${l}`}>
                {l} ×
              </button>
            ))}
          </div>
        )}
      </form>
      {error && (
        <p className="banner banner-err" role="alert">
          Could not read workflows: {error.message}
        </p>
      )}
      {items === null && !error && <p className="muted">Loading…</p>}
      {items && filtersHere(filters) && (
        <p className="muted small" data-filtered-here>
          Submitter, dates, instrument and sort apply to the {items.length} workflow{items.length === 1 ? "" : "s"} loaded{next ? " (load more to look further back)" : ""}.
        </p>
      )}
      {canSubmit && items && items.length > 0 && (
        <div className="bulk-bar" role="group" aria-label="Bulk actions">
          <label className="check-label">
            <input type="checkbox" checked={allShown} onChange={() => setSelected(allShown ? new Set() : new Set(view.map((w) => w.id)))} /> Select all shown
          </label>
          <span className="muted small" aria-live="polite" data-selected={chosen.length}>
            {chosen.length} selected
          </span>
          <button type="button" className="danger" disabled={!can("cancel")} onClick={() => setBulk("cancel")}>
            Cancel selected…
          </button>
          <button type="button" disabled={!can("retry")} onClick={() => setBulk("retry")}>
            Retry failed…
          </button>
          {chosen.length > 0 && (
            <button type="button" className="link" onClick={() => setSelected(new Set())}>
              Clear selection
            </button>
          )}
        </div>
      )}
      {items && view.length === 0 && <p className="empty">{status || q || labels.length || filtersHere(filters) ? "No workflow matches these filters." : "No workflows yet. Create one with “New workflow”."}</p>}
      {items && view.length > 0 && (
        <table className="data workflows">
          <thead>
            <tr>
              <th scope="col">Workflow</th>
              <th scope="col">Status</th>
              <th scope="col">Release</th>
              <th scope="col">Tasks</th>
              <th scope="col">Labels</th>
              <th scope="col">Created</th>
              <th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody>
            {view.map((w) => (
              <tr key={w.id} data-workflow={w.id} data-status={w.status}>
                <td data-label="Workflow">
                  {canSubmit && <input type="checkbox" className="select-row" checked={selected.has(w.id)} onChange={() => toggle(w.id)} aria-label={`Select ${w.name}`} />}
                  <a href={workflowHref(w.id)} className="strong">
                    {w.name}
                  </a>
                  {w.description && <div className="muted small clamp">{w.description}</div>}
                </td>
                <td data-label="Status">
                  <StatusBadge status={w.status} />
                </td>
                <td data-label="Release" data-release={w.release}>
                  {isOneOf(FINAL_WORKFLOW_STATUSES, w.status) ? <ReleaseBadge release={w.release} small /> : <span className="muted" aria-label="not finished">—</span>}
                </td>
                <td data-label="Tasks">
                  <Progress w={w} />
                </td>
                <td data-label="Labels">
                  <div className="chips">
                    {Object.entries(w.labels).map(([k, v]) => (
                      <button type="button" className={`chip${labels.includes(`${k}=${v}`) ? " chip-on" : ""}`} key={k} onClick={() => toggleLabel(`${k}=${v}`)} title={`Show only workflows labelled ${k}=${v}`}>
                        {k}={v}
                      </button>
                    ))}
                  </div>
                </td>
                <td className="nowrap" data-label="Created">{formatTime(w.created_at)}</td>
                <td className="nowrap" data-label="Duration">{w.started_at ? formatDuration(secondsBetween(w.started_at, w.finished_at ?? new Date().toISOString())) : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {bulk && (
        <BulkDialog
          verb={bulk}
          selected={chosen}
          onClose={() => setBulk(null)}
          onDone={() => {
            setSelected(new Set());
            void load();
          }}
        />
      )}
      {next && (
        <p>
          <button type="button" onClick={loadMore} disabled={loadingMore}>
            {loadingMore ? "Loading…" : "Load more"}
          </button>
        </p>
      )}
    </section>
  );
}
