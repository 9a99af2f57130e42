// The system at a glance (GET /api/system, operators and admins): is each service ready,
// and is anything piling up — events the listener has not relayed, messages no consumer
// could handle. Read again every few seconds, one read at a time.
import { useCallback, useEffect, useRef, useState } from "react";
import { api, attempt, type ApiError } from "../api/client";
import type { ServiceReadiness, SystemState } from "../api/types";
import { useCan } from "../auth/session";
import { formatDuration, formatTime } from "../lib/format";

export const REFRESH_MS = 5000;

function ReadyBadge({ ready }: { ready: boolean }) {
  return (
    <span className={`badge ${ready ? "status-ready" : "status-not-ready"}`} data-ready={ready}>
      {ready ? "ready" : "not ready"}
    </span>
  );
}

function Service({ service }: { service: ServiceReadiness }) {
  return (
    <li className="system-service" data-service={service.name}>
      <strong>{service.name}</strong>
      <ReadyBadge ready={service.ready} />
      {!service.ready && <span className="system-detail">{service.detail}</span>}
      <code className="muted small break">{service.url}</code>
    </li>
  );
}

export function System() {
  const isAdmin = useCan("admin");
  const [state, setState] = useState<SystemState | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [readAt, setReadAt] = useState<string | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const alive = useRef(true);

  const load = useCallback(async () => {
    const res = await attempt(() => api.GET("/api/system"));
    if (!alive.current) return;
    if (res.ok) {
      setState(res.data);
      setError(null);
      setReadAt(new Date().toISOString());
    } else setError(res.error);
    timer.current = setTimeout(() => void load(), REFRESH_MS);
  }, []);
  useEffect(() => {
    alive.current = true;
    void load();
    return () => {
      alive.current = false;
      if (timer.current) clearTimeout(timer.current);
    };
  }, [load]);

  const down = state?.services.filter((s) => !s.ready).length ?? 0;
  return (
    <section aria-labelledby="system-title">
      <div className="page-head">
        <h1 id="system-title">System</h1>
        {state && (
          <span className="muted small" role="status" data-down={down}>
            {down === 0 ? "All services ready" : down === 1 ? "1 service not ready" : `${down} services not ready`}
          </span>
        )}
      </div>
      <p className="muted">
        Each service's readiness, what waits to be relayed to the broker, and the messages no consumer could handle. Read every {REFRESH_MS / 1000} s
        {readAt ? `; last at ${formatTime(readAt)}` : ""}.
      </p>
      {error && (
        <p className="banner banner-err" role="alert">
          Could not read the system's state: {error.message}
        </p>
      )}
      {state === null && !error && <p className="muted">Loading…</p>}
      {state && (
        <div className="system-grid">
          <div className="card" role="region" aria-labelledby="services-title">
            <h2 id="services-title">Services</h2>
            <ul className="system-services" aria-label="Services">
              {state.services.map((s) => (
                <Service key={s.name} service={s} />
              ))}
            </ul>
            {state.services.length === 1 && <p className="small muted">No worker probes configured (LAF_API_SERVICE_PROBES): only the API is checked.</p>}
          </div>
          <div className="card" role="region" aria-labelledby="outbox-title">
            <h2 id="outbox-title">Outbox</h2>
            <dl className="facts">
              <div>
                <dt>Not yet relayed</dt>
                <dd data-outbox-backlog={state.outbox.backlog}>{state.outbox.backlog === 1 ? "1 event" : `${state.outbox.backlog.toLocaleString()} events`}</dd>
              </div>
              <div>
                <dt>Oldest waiting</dt>
                <dd>{state.outbox.backlog ? formatDuration(state.outbox.oldest_age_s) : "—"}</dd>
              </div>
            </dl>
          </div>
          <div className="card" role="region" aria-labelledby="dead-title">
            <h2 id="dead-title">Dead letters</h2>
            <dl className="facts">
              <div>
                <dt>Messages</dt>
                <dd data-dead-letters={state.dead_letters.count}>{state.dead_letters.count.toLocaleString()}</dd>
              </div>
              <div>
                <dt>Latest</dt>
                <dd>{formatTime(state.dead_letters.latest_at)}</dd>
              </div>
            </dl>
            {isAdmin && state.dead_letters.count > 0 && (
              <p className="small">
                <a href="/api/admin/dead-letters">See them (JSON, newest first)</a>
              </p>
            )}
          </div>
          <div className="card" role="region" aria-labelledby="traces-title">
            <h2 id="traces-title">Traces</h2>
            {state.trace_url_template ? (
              <p className="small">
                Each workflow's page links its trace: <code className="break">{state.trace_url_template}</code>
              </p>
            ) : (
              <p className="small muted">No trace viewer configured (LAF_TRACE_URL_TEMPLATE).</p>
            )}
          </div>
        </div>
      )}
    </section>
  );
}
