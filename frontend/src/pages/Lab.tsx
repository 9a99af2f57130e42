import { useCallback, useEffect, useRef, useState } from "react";
import { api, attempt } from "../api/client";
import type { LiveEvent, Runner } from "../api/types";
import { InstrumentPicture } from "../components/InstrumentPicture";
import { LiveIndicator } from "../components/LiveIndicator";
import { StatusBadge } from "../components/StatusBadge";
import { formatClock } from "../lib/format";
import { loadRegistry, type Registry, type TaskRef } from "../lib/instruments";
import { useLiveFeed, useThrottled } from "../live/useLive";
import { workflowHref } from "../router";

function TaskLink({ t }: { t: TaskRef }) {
  const label = `${t.task_name}${t.workflow_name ? ` · ${t.workflow_name}` : ""}`;
  return t.workflow_id ? <a href={workflowHref(t.workflow_id, t.task_name)}>{label}</a> : <span>{label}</span>;
}

export function Lab() {
  const [registry, setRegistry] = useState<Registry | null>(null);
  const [runners, setRunners] = useState<Runner[] | null>(null);
  const [updated, setUpdated] = useState<string | null>(null);
  const generation = useRef(0);

  const load = useCallback(async () => {
    const mine = ++generation.current;
    const [reg, run] = await Promise.all([loadRegistry(true), attempt(() => api.GET("/api/runners"))]);
    if (mine !== generation.current) return;
    setRegistry(reg);
    if (run.ok) setRunners(run.data);
    setUpdated(new Date().toISOString());
  }, []);

  useEffect(() => {
    void load();
    // a safety net beside the live stream: runner liveness changes without events
    const t = setInterval(() => void load(), 10000);
    return () => clearInterval(t);
  }, [load]);

  const refetch = useThrottled(() => void load(), 400);
  const onEvent = useCallback((e: LiveEvent) => {
    if (e.type.startsWith("task.") || e.type.startsWith("instrument.")) refetch();
  }, [refetch]);
  const mode = useLiveFeed(onEvent, load, undefined, 3000);

  return (
    <section aria-labelledby="lab-title" className="lab">
      <div className="page-head">
        <h1 id="lab-title">Lab</h1>
        <LiveIndicator mode={mode} />
        {updated && <span className="muted small">updated {formatClock(updated)}</span>}
      </div>
      <h2>Instruments</h2>
      {registry === null && <p className="muted">Loading…</p>}
      {registry && !registry.available && (
        <p className="empty" data-empty="instruments">
          No instruments registered: this server has no instrument registry yet.
        </p>
      )}
      {registry?.available && registry.error && (
        <p className="banner banner-err" role="alert">
          Could not read the instruments: {registry.error}
        </p>
      )}
      {registry?.available && !registry.error && registry.instruments.length === 0 && (
        <p className="empty" data-empty="instruments">
          No instruments registered.
        </p>
      )}
      {registry?.available && registry.instruments.length > 0 && (
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
                  </div>
                </div>
                <div className="instrument-body">
                  <h4>Now</h4>
                  {i.current.length ? (
                    <ul className="tasks-now">
                      {i.current.map((t, n) => (
                        <li key={t.task_id ?? n}>
                          <TaskLink t={t} /> {t.status && <StatusBadge status={t.status} small />}
                          {t.since && <span className="muted small"> since {formatClock(t.since)}</span>}
                        </li>
                      ))}
                    </ul>
                  ) : (
                    <p className="muted small">Nothing running.</p>
                  )}
                  <h4>Queue{i.queue.length ? ` (${i.queue.length})` : ""}</h4>
                  {i.queue.length ? (
                    <ol className="queue">
                      {i.queue.map((t, n) => (
                        <li key={t.task_id ?? n}>
                          <TaskLink t={t} />
                        </li>
                      ))}
                    </ol>
                  ) : (
                    <p className="muted small">Empty.</p>
                  )}
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
              <div className="muted small">heard from {formatClock(r.heartbeat_at)}</div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
