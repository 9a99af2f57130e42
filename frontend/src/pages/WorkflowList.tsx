import { useCallback, useEffect, useRef, useState } from "react";
import { api, attempt, type ApiError } from "../api/client";
import type { LiveEvent, Workflow } from "../api/types";
import { LiveIndicator } from "../components/LiveIndicator";
import { StatusBadge } from "../components/StatusBadge";
import { formatDuration, formatTime, secondsBetween } from "../lib/format";
import { useLiveFeed, useThrottled } from "../live/useLive";
import { navigate, workflowHref } from "../router";

export const WORKFLOW_STATUSES = ["pending", "running", "paused", "succeeded", "failed", "cancelled"];
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

export function WorkflowList({ query }: { query: URLSearchParams }) {
  const status = query.get("status") ?? "";
  const q = query.get("q") ?? "";
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
        params: { query: { status: status || undefined, q: q || undefined, limit: Math.min(200, Math.max(PAGE, shown.current)) } },
      }),
    );
    if (mine !== generation.current) return;
    if (res.ok) {
      setItems(res.data.items);
      setNext(res.data.next_cursor ?? null);
      setError(null);
    } else setError(res.error);
  }, [status, q]);

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
      if (e.type.startsWith("workflow.") && e.workflow_id && e.data?.status) {
        setItems((list) => list?.map((w) => (w.id === e.workflow_id ? { ...w, status: e.data!.status! } : w)) ?? list);
      }
      if (e.type.startsWith("workflow.") || e.type.startsWith("task.")) refetch();
    },
    [refetch],
  );
  const mode = useLiveFeed(onEvent, load, undefined, 2000);

  function setFilter(key: string, value: string) {
    // from the hash as it is now: a debounced search must not undo a filter chosen meanwhile
    const params = new URLSearchParams(window.location.hash.split("?", 2)[1] ?? "");
    if (value) params.set(key, value);
    else params.delete(key);
    const s = params.toString();
    navigate(`#/workflows${s ? `?${s}` : ""}`, true);
  }

  async function loadMore() {
    if (!next) return;
    setLoadingMore(true);
    const res = await attempt(() =>
      api.GET("/api/workflows", { params: { query: { status: status || undefined, q: q || undefined, limit: PAGE, cursor: next } } }),
    );
    setLoadingMore(false);
    if (res.ok) {
      setItems((list) => {
        const merged = [...(list ?? []), ...res.data.items.filter((w) => !list?.some((x) => x.id === w.id))];
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
        <a className="button primary" href="#/new">
          New workflow
        </a>
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
      </form>
      {error && (
        <p className="banner banner-err" role="alert">
          Could not read workflows: {error.message}
        </p>
      )}
      {items === null && !error && <p className="muted">Loading…</p>}
      {items && items.length === 0 && <p className="empty">{status || q ? "No workflow matches these filters." : "No workflows yet. Create one with “New workflow”."}</p>}
      {items && items.length > 0 && (
        <table className="data workflows">
          <thead>
            <tr>
              <th scope="col">Workflow</th>
              <th scope="col">Status</th>
              <th scope="col">Tasks</th>
              <th scope="col">Labels</th>
              <th scope="col">Created</th>
              <th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody>
            {items.map((w) => (
              <tr key={w.id} data-workflow={w.id} data-status={w.status}>
                <td>
                  <a href={workflowHref(w.id)} className="strong">
                    {w.name}
                  </a>
                  {w.description && <div className="muted small clamp">{w.description}</div>}
                </td>
                <td>
                  <StatusBadge status={w.status} />
                </td>
                <td>
                  <Progress w={w} />
                </td>
                <td>
                  <div className="chips">
                    {Object.entries(w.labels).map(([k, v]) => (
                      <span className="chip" key={k}>
                        {k}={v}
                      </span>
                    ))}
                  </div>
                </td>
                <td className="nowrap">{formatTime(w.created_at)}</td>
                <td className="nowrap">{w.started_at ? formatDuration(secondsBetween(w.started_at, w.finished_at ?? new Date().toISOString())) : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
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
