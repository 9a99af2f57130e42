// How busy an instrument was over the last hours and its recent runs, from
// GET /api/instruments/{id}/runs (the API sums the time its slots were in use).
import type { InstrumentRuns } from "../api/types";
import { formatDuration, formatTime, secondsBetween } from "../lib/format";
import { workflowHref } from "../router";
import { StatusBadge } from "./StatusBadge";

const SHOWN = 5;

export function InstrumentUsage({ usage, error, now }: { usage: InstrumentRuns | undefined; error?: string; now: string }) {
  if (error) return <p className="muted small">Recent runs unavailable: {error}</p>;
  if (!usage) return <p className="muted small">Loading recent runs…</p>;
  const percent = Math.round(usage.utilisation * 1000) / 10;
  const hours = usage.hours === 1 ? "hour" : `${usage.hours} hours`;
  const runs = usage.runs.slice(0, SHOWN);
  return (
    <div className="usage" data-utilisation={usage.utilisation}>
      <h4>Utilisation</h4>
      <div className="usage-meter" role="meter" aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent} aria-label={`Utilisation over the last ${hours}`}>
        <span style={{ width: `${Math.min(100, percent)}%` }} />
      </div>
      <p className="small">
        {percent} % over the last {hours} ({formatDuration(usage.busy_s)} in use{usage.capacity > 1 ? ` across ${usage.capacity} slots` : ""})
      </p>
      <h4>Recent runs{usage.runs.length ? ` (${usage.runs.length})` : ""}</h4>
      {runs.length === 0 ? (
        <p className="muted small">None in the last {hours}.</p>
      ) : (
        <ul className="runs" aria-label="Recent runs">
          {runs.map((r) => (
            <li key={`${r.workflow_id}-${r.task_name}-${r.attempt}`} data-run={r.task_name}>
              <a href={workflowHref(r.workflow_id, r.task_name)}>{`${r.task_name} · ${r.workflow_name}`}</a> <StatusBadge status={r.status} small />
              <span className="muted small">
                {" "}
                {formatTime(r.started_at ?? r.finished_at)}
                {r.started_at ? ` · ${formatDuration(secondsBetween(r.started_at, r.finished_at ?? now))}` : ""}
              </span>
            </li>
          ))}
        </ul>
      )}
      {usage.runs.length > SHOWN && <p className="muted small">and {usage.runs.length - SHOWN} more.</p>}
    </div>
  );
}
