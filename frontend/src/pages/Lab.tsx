import { useCallback, useEffect, useRef, useState } from "react";
import { api, attempt } from "../api/client";
import { isInstrumentEvent, isTaskEvent, type Instrument, type InstrumentRuns, type InstrumentTask, type LiveEvent, type Runner } from "../api/types";
import { useCan } from "../auth/session";
import { InstrumentEditDialog } from "../components/InstrumentEditDialog";
import { InstrumentPicture } from "../components/InstrumentPicture";
import { InstrumentUsage } from "../components/InstrumentUsage";
import { LiveIndicator } from "../components/LiveIndicator";
import { StatusBadge } from "../components/StatusBadge";
import { calibrationState, describeCalibration, localToday } from "../lib/calibration";
import { formatTime } from "../lib/format";
import { loadRegistry, taskSince, type Registry } from "../lib/instruments";
import { useLiveFeed, useThrottled } from "../live/useLive";
import { workflowHref } from "../router";

function TaskLink({ t }: { t: InstrumentTask }) {
  return <a href={workflowHref(t.workflow_id, t.task_name)}>{`${t.task_name} · ${t.workflow_name}`}</a>;
}

/** The windows of utilisation the board offers, in hours. */
export const USAGE_HOURS = [1, 4, 8, 24, 168] as const;
type Usage = Record<string, { data?: InstrumentRuns; error?: string }>;

async function loadUsage(instruments: Instrument[], hours: number): Promise<Usage> {
  const answers = await Promise.all(
    instruments.map((i) => attempt(() => api.GET("/api/instruments/{instrument_id}/runs", { params: { path: { instrument_id: i.id }, query: { hours, limit: 50 } } }))),
  );
  return Object.fromEntries(instruments.map((i, k) => [i.id, answers[k].ok ? { data: answers[k].data } : { error: answers[k].error.message }]));
}

function Calibration({ due }: { due: string | null | undefined }) {
  const today = localToday();
  const state = calibrationState(due, today);
  if (state === "none") return <div className="muted small">Calibration due: not tracked</div>;
  return (
    <div className={`small calibration calibration-${state}`} data-calibration={state}>
      Calibration due {due} ({describeCalibration(due, today)})
    </div>
  );
}

export function Lab() {
  const isAdmin = useCan("admin");
  const [registry, setRegistry] = useState<Registry | null>(null);
  const [runners, setRunners] = useState<Runner[] | null>(null);
  const [usage, setUsage] = useState<Usage>({});
  const [hours, setHours] = useState<number>(8);
  const [editing, setEditing] = useState<Instrument | null>(null);
  const [updated, setUpdated] = useState<string | null>(null);
  const generation = useRef(0);
  const hoursRef = useRef(hours);
  hoursRef.current = hours;

  const load = useCallback(async () => {
    const mine = ++generation.current;
    const [reg, run] = await Promise.all([loadRegistry(), attempt(() => api.GET("/api/runners"))]);
    if (mine !== generation.current) return;
    setRegistry(reg);
    if (run.ok) setRunners(run.data);
    setUpdated(new Date().toISOString());
    const used = await loadUsage(reg.instruments, hoursRef.current);
    if (mine === generation.current) setUsage(used);
  }, []);
  useEffect(() => {
    void load();
  }, [hours, load]);

  useEffect(() => {
    // a safety net beside the live stream: runner liveness changes without events
    const t = setInterval(() => void load(), 10000);
    return () => clearInterval(t);
  }, [load]);

  const refetch = useThrottled(() => void load(), 400);
  const onEvent = useCallback((e: LiveEvent) => {
    if (isTaskEvent(e) || isInstrumentEvent(e)) refetch();
  }, [refetch]);
  const mode = useLiveFeed(onEvent, load, undefined, 3000);

  return (
    <section aria-labelledby="lab-title" className="lab">
      <div className="page-head">
        <h1 id="lab-title">Lab</h1>
        <LiveIndicator mode={mode} />
        {updated && <span className="muted small">updated {formatTime(updated)}</span>}
      </div>
      <div className="card-head">
        <h2>Instruments</h2>
        <div className="field inline actions">
          <label htmlFor="usage-hours">Utilisation over the last</label>
          <select id="usage-hours" value={hours} onChange={(e) => setHours(Number(e.target.value))}>
            {USAGE_HOURS.map((h) => (
              <option key={h} value={h}>
                {h === 1 ? "hour" : `${h} hours`}
              </option>
            ))}
          </select>
        </div>
      </div>
      {registry === null && <p className="muted">Loading…</p>}
      {registry?.error && (
        <p className="banner banner-err" role="alert">
          Could not read the instruments: {registry.error}
        </p>
      )}
      {registry && !registry.error && registry.instruments.length === 0 && (
        <p className="empty" data-empty="instruments">
          No instruments registered.
        </p>
      )}
      {registry && registry.instruments.length > 0 && (
        <ul className="bench" aria-label="Instruments">
          {registry.instruments.map((i) => {
            const busy = i.current.length > 0;
            return (
              <li key={i.id} className={`instrument card${busy ? " busy" : ""}`} data-instrument={i.id} data-status={i.status}>
                <div className="instrument-head">
                  <InstrumentPicture kind={i.kind} status={busy ? "running" : i.status} />
                  <div>
                    <h3>{i.name}</h3>
                    <div className="muted small mono">
                      {i.id} · {i.kind}
                      {i.capacity > 1 ? ` · ${i.capacity} slots` : ""}
                    </div>
                    <div className="instrument-state">
                      <StatusBadge status={i.status} />
                      <span className={busy ? "text-run" : "muted"}>{busy ? `busy ${i.current.length}/${i.capacity}` : "idle"}</span>
                    </div>
                    <Calibration due={i.calibration_due} />
                  </div>
                </div>
                {isAdmin && (
                  <p className="instrument-edit">
                    <button type="button" onClick={() => setEditing(i)} aria-label={`Edit ${i.name}`}>
                      Edit…
                    </button>
                  </p>
                )}
                <div className="instrument-body">
                  <h4>Now</h4>
                  {i.current.length ? (
                    <ul className="tasks-now">
                      {i.current.map((t) => (
                        <li key={t.task_id}>
                          <TaskLink t={t} /> <StatusBadge status={t.status} small />
                          {taskSince(t) && <span className="muted small"> since {formatTime(taskSince(t))}</span>}
                        </li>
                      ))}
                    </ul>
                  ) : (
                    <p className="muted small">Nothing running.</p>
                  )}
                  <h4>Queue{i.queue.length ? ` (${i.queue.length})` : ""}</h4>
                  {i.queue.length ? (
                    <ol className="queue">
                      {i.queue.map((t) => (
                        <li key={t.task_id}>
                          <TaskLink t={t} />
                        </li>
                      ))}
                    </ol>
                  ) : (
                    <p className="muted small">Empty.</p>
                  )}
                  <InstrumentUsage usage={usage[i.id]?.data} error={usage[i.id]?.error} now={updated ?? new Date().toISOString()} />
                </div>
              </li>
            );
          })}
        </ul>
      )}
      <h2>Runners</h2>
      {runners === null ? (
        <p className="muted">Loading…</p>
      ) : runners.length === 0 ? (
        <p className="empty">No runner has announced itself.</p>
      ) : (
        <ul className="bench runners" aria-label="Runners">
          {runners.map((r) => (
            <li key={r.id} className="instrument card" data-runner={r.id}>
              <div className="instrument-head">
                <InstrumentPicture kind="compute" status={r.alive ? (r.running > 0 ? "running" : "online") : "offline"} />
                <div>
                  <h3 className="mono">{r.id}</h3>
                  <div className="muted small">{r.hostname}</div>
                  <div className="instrument-state">
                    <StatusBadge status={r.alive ? "online" : "offline"} />
                    <span className={r.running ? "text-run" : "muted"}>
                      {r.running}/{r.concurrency} running
                    </span>
                  </div>
                </div>
              </div>
              <div className="chips">
                {r.executors.map((x) => (
                  <span className="chip" key={x}>
                    {x}
                  </span>
                ))}
              </div>
              <div className="muted small">heard from {formatTime(r.heartbeat_at)}</div>
            </li>
          ))}
        </ul>
      )}
      {editing && <InstrumentEditDialog instrument={editing} onClose={() => setEditing(null)} onDone={() => void load()} />}
    </section>
  );
}
