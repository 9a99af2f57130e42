// The timeline of a workflow's tasks: per task, the time it waited for its
// instrument (ready → queued, from the history), queued (→ claimed) and each
// attempt's run, coloured by outcome. Rows are virtualised (only those in view
// are elements) under a sticky time axis; grouped by state or instrument.
import { memo, useMemo, useState } from "react";
import { FINAL_TASK_STATUSES, isOneOf, TASK_STATUSES, type Task, type Workflow } from "../api/types";
import { formatDuration, formatTime } from "../lib/format";
import { ticks } from "../lib/shapes";
import type { Span } from "../lib/waiting";
import { useVirtualRows } from "./useVirtualRows";

export interface Bar {
  task: string;
  attempt: number;
  status: string;
  queued: number | null;
  start: number;
  end: number;
  error?: string | null;
  open: boolean;
}

const ms = (iso: string | null | undefined) => (iso ? new Date(iso).getTime() : null);

export function attemptBars(tasks: Task[], now: number): Bar[] {
  const bars: Bar[] = [];
  for (const t of tasks) {
    for (const a of t.attempts ?? []) {
      const start = ms(a.started_at) ?? ms(a.queued_at) ?? ms(a.finished_at)!;
      bars.push({ task: t.name, attempt: a.attempt, status: a.status, queued: ms(a.queued_at), start, end: ms(a.finished_at)!, error: a.error, open: false });
    }
    const recorded = (t.attempts ?? []).some((a) => a.attempt === t.attempt);
    if (!recorded && t.attempt > 0 && (t.started_at || t.queued_at)) {
      const final = isOneOf(FINAL_TASK_STATUSES, t.status);
      const start = ms(t.started_at) ?? ms(t.queued_at)!;
      bars.push({
        task: t.name,
        attempt: t.attempt,
        status: t.status,
        queued: ms(t.queued_at),
        start,
        end: final ? ms(t.finished_at) ?? now : t.started_at ? now : start,
        error: t.error,
        open: !final,
      });
    }
  }
  return bars;
}

export type GroupBy = "none" | "state" | "instrument";

export type TimelineRow =
  | { kind: "head"; key: string; label: string; count: number }
  | { kind: "task"; key: string; task: Task; bars: Bar[]; waits: { start: number; end: number; open: boolean }[]; first: number };

/** The rows of the timeline: tasks with anything to draw, by first moment, under a heading per group. */
export function timelineRows(tasks: Task[], waiting: Map<string, Span[]>, now: number, groupBy: GroupBy): { rows: TimelineRow[]; t0: number; t1: number; waited: number } {
  const bars = attemptBars(tasks, now);
  const barsOf = new Map<string, Bar[]>();
  for (const b of bars) (barsOf.get(b.task) ?? barsOf.set(b.task, []).get(b.task)!).push(b);
  let t0 = Infinity;
  let t1 = -Infinity;
  let waited = 0;
  const items: Extract<TimelineRow, { kind: "task" }>[] = [];
  for (const t of tasks) {
    const bs = barsOf.get(t.name) ?? [];
    const waits = (waiting.get(t.name) ?? []).map((s) => ({ start: s.start, end: s.end ?? (isOneOf(FINAL_TASK_STATUSES, t.status) ? s.start : now), open: s.end === null }));
    if (!bs.length && !waits.length) continue;
    let first = Infinity;
    for (const b of bs) {
      first = Math.min(first, b.queued ?? b.start, b.start);
      t1 = Math.max(t1, b.end);
    }
    for (const w of waits) {
      first = Math.min(first, w.start);
      t1 = Math.max(t1, w.end);
      waited += w.end - w.start;
    }
    t0 = Math.min(t0, first);
    items.push({ kind: "task", key: t.name, task: t, bars: bs, waits, first });
  }
  items.sort((a, b) => a.first - b.first);
  if (groupBy === "none") return { rows: items, t0, t1, waited };
  const keyOf = (r: (typeof items)[number]) => (groupBy === "state" ? r.task.status : r.task.instrument ?? "no instrument");
  const order = groupBy === "state" ? [...TASK_STATUSES] : [...new Set(items.map(keyOf))].sort();
  const rows: TimelineRow[] = [];
  for (const g of order) {
    const members = items.filter((r) => keyOf(r) === g);
    if (!members.length) continue;
    rows.push({ kind: "head", key: `head:${g}`, label: g, count: members.length }, ...members);
  }
  return { rows, t0, t1, waited };
}

const ROW = 24;

const TaskRow = memo(function TaskRow({ row, t0, span, selected, onSelect }: { row: Extract<TimelineRow, { kind: "task" }>; t0: number; span: number; selected: boolean; onSelect: (name: string) => void }) {
  const pct = (v: number) => `${(((v - t0) / span) * 100).toFixed(3)}%`;
  const width = (a: number, b: number) => `max(2px, ${(((b - a) / span) * 100).toFixed(3)}%)`;
  const waited = row.waits.reduce((s, w) => s + (w.end - w.start), 0);
  const ran = row.bars.reduce((s, b) => s + (b.end - b.start), 0);
  const summary = `${row.task.name}: ${row.task.status}${waited ? `, waited ${formatDuration(waited / 1000)}` : ""}${ran ? `, ran ${formatDuration(ran / 1000)}` : ""}`;
  const many = row.bars.length > 1;
  return (
    <>
      <button type="button" className={`link timeline-name${selected ? " selected" : ""}`} onClick={() => onSelect(row.task.name)} title={summary} aria-label={summary}>
        {row.task.name}
      </button>
      <div className="timeline-track" aria-hidden="true">
        {row.waits.map((w, i) => (
          <span key={`w${i}`} className={`seg seg-waiting${w.open ? " open" : ""}`} data-waiting-ms={Math.round(w.end - w.start)} style={{ left: pct(w.start), width: width(w.start, w.end) }} title={`waited for ${row.task.instrument ?? "its instrument"} ${formatDuration((w.end - w.start) / 1000)} from ${formatTime(new Date(w.start).toISOString())}`} />
        ))}
        {row.bars.map((b) => (
          <span key={b.attempt}>
            {b.queued !== null && b.queued < b.start && <span className="seg seg-queued" style={{ left: pct(b.queued), width: width(b.queued, b.start) }} title={`queued ${formatDuration((b.start - b.queued) / 1000)}`} />}
            <span
              className={`seg seg-run status-${b.status}${b.open ? " open" : ""}`}
              style={{ left: pct(b.start), width: width(b.start, b.end) }}
              title={`attempt ${b.attempt}: ${b.status}, from ${formatTime(new Date(b.start).toISOString())} for ${formatDuration((b.end - b.start) / 1000)}${b.error ? ` — ${b.error}` : ""}`}
            >
              {many ? `#${b.attempt}` : ""}
            </span>
          </span>
        ))}
      </div>
    </>
  );
});

export function Timeline({ workflow, now, waiting, selected, onSelect }: { workflow: Workflow; now: number; waiting: Map<string, Span[]>; selected?: string | null; onSelect: (name: string) => void }) {
  const [groupBy, setGroupBy] = useState<GroupBy>("none");
  const { rows, t0, t1, waited } = useMemo(() => timelineRows(workflow.tasks, waiting, now, groupBy), [workflow.tasks, waiting, now, groupBy]);
  const v = useVirtualRows(rows.length, ROW);
  if (!rows.length) return <p className="muted">Nothing has run yet.</p>;
  const span = Math.max(1, t1 - t0);
  const marks = ticks(0, span / 1000, 6).filter((s) => s * 1000 <= span);
  const [first, last] = v.range;
  return (
    <div className="timeline" data-rows={rows.length}>
      <div className="timeline-bar">
        <div className="field inline">
          <label htmlFor="timeline-group">Group by</label>
          <select id="timeline-group" value={groupBy} onChange={(e) => setGroupBy(e.target.value as GroupBy)}>
            <option value="none">none (by start)</option>
            <option value="state">state</option>
            <option value="instrument">instrument</option>
          </select>
        </div>
        <ul className="timeline-legend" aria-label="Legend">
          <li>
            <i className="seg-waiting" /> waiting for the instrument
          </li>
          <li>
            <i className="seg-queued" /> queued for a runner
          </li>
          <li>
            <i className="seg-run status-succeeded" /> running (colour: outcome)
          </li>
        </ul>
        <span className="muted small">
          {formatDuration(span / 1000)} from {formatTime(new Date(t0).toISOString())}
          {waited > 0 ? ` · ${formatDuration(waited / 1000)} waiting in all` : ""}
        </span>
      </div>
      <div className="timeline-scroll" ref={v.ref} onScroll={v.onScroll} role="region" aria-label={`Timeline of ${rows.length} rows`} tabIndex={0}>
        <div className="timeline-axis" aria-hidden="true">
          <span className="timeline-corner">time</span>
          <div className="timeline-track">
            {marks.map((s) => (
              <span key={s} className="tick" style={{ left: `${((s * 1000) / span) * 100}%` }}>
                +{formatDuration(s)}
              </span>
            ))}
          </div>
        </div>
        <div className="timeline-body" style={{ height: rows.length * ROW }}>
          {rows.slice(first, last).map((r, i) => (
            <div key={r.key} className={`timeline-row${r.kind === "head" ? " timeline-head" : ""}`} style={{ top: (first + i) * ROW, height: ROW }} data-timeline-task={r.kind === "task" ? r.key : undefined}>
              {r.kind === "head" ? (
                <strong>
                  {r.label} <span className="muted">({r.count})</span>
                </strong>
              ) : (
                <TaskRow row={r} t0={t0} span={span} selected={selected === r.key} onSelect={onSelect} />
              )}
            </div>
          ))}
        </div>
      </div>
    </div>
  );
}
