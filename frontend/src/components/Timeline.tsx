import type { Task, Workflow } from "../api/types";
import { FINAL_TASK, formatClock, formatDuration } from "../lib/format";
import { ticks } from "../lib/shapes";

interface Bar {
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
      const final = FINAL_TASK.has(t.status);
      const start = ms(t.started_at) ?? ms(t.queued_at)!;
      bars.push({
        task: t.name,
        attempt: t.attempt,
        status: t.status,
        queued: ms(t.queued_at),
        start,
        end: final ? ms(t.finished_at) ?? now : now,
        error: t.error,
        open: !final,
      });
    }
  }
  return bars;
}

const ROW = 26;
const LEFT = 150;
const W = 1200;

/** A Gantt chart of every attempt: queued (pale) then running (coloured by its outcome). */
export function Timeline({ workflow, now }: { workflow: Workflow; now: number }) {
  const bars = attemptBars(workflow.tasks, now);
  if (!bars.length) return <p className="muted">No attempt has started yet.</p>;
  const t0 = Math.min(...bars.map((b) => b.queued ?? b.start), ms(workflow.started_at) ?? Infinity);
  const t1 = Math.max(...bars.map((b) => b.end), t0 + 1000);
  const rows = workflow.tasks.filter((t) => bars.some((b) => b.task === t.name));
  const height = rows.length * ROW + 34;
  const x = (v: number) => LEFT + ((v - t0) / (t1 - t0)) * (W - LEFT - 16);
  const tickValues = ticks(0, (t1 - t0) / 1000, 8);
  return (
    <div className="timeline-scroll">
      <svg className="timeline" viewBox={`0 0 ${W} ${height}`} role="img" aria-label={`Timeline of ${bars.length} attempts over ${formatDuration((t1 - t0) / 1000)}`}>
        {tickValues.map((s) => (
          <g key={s}>
            <line className="grid" x1={x(t0 + s * 1000)} x2={x(t0 + s * 1000)} y1={4} y2={height - 24} />
            <text className="tick" x={x(t0 + s * 1000)} y={height - 8} textAnchor="middle">
              {formatDuration(s)}
            </text>
          </g>
        ))}
        {rows.map((t, i) => (
          <g key={t.name} transform={`translate(0 ${i * ROW + 6})`}>
            <text className="timeline-label" x={LEFT - 8} y={ROW / 2 + 4} textAnchor="end">
              {t.name.length > 20 ? t.name.slice(0, 19) + "…" : t.name}
            </text>
            {bars
              .filter((b) => b.task === t.name)
              .map((b) => (
                <g key={b.attempt} className={`bar status-${b.status}${b.open ? " open" : ""}`}>
                  <title>{`${t.name} attempt ${b.attempt}: ${b.status}, ${formatClock(new Date(b.start).toISOString())} for ${formatDuration((b.end - b.start) / 1000)}${b.error ? ` — ${b.error}` : ""}`}</title>
                  {b.queued !== null && b.queued < b.start && (
                    <rect className="bar-queued" x={x(b.queued)} y={6} width={Math.max(1, x(b.start) - x(b.queued))} height={ROW - 12} rx={2} />
                  )}
                  <rect className="bar-run" x={x(b.start)} y={4} width={Math.max(3, x(b.end) - x(b.start))} height={ROW - 8} rx={3} />
                  {bars.filter((o) => o.task === t.name).length > 1 && (
                    <text className="bar-text" x={x(b.start) + 4} y={ROW / 2 + 4}>
                      #{b.attempt}
                    </text>
                  )}
                </g>
              ))}
          </g>
        ))}
      </svg>
    </div>
  );
}
