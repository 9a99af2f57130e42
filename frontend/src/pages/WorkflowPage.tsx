import { memo, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useCan, useSession } from "../auth/session";
import { isSignatureRow, shortHash } from "../api/audit";
import { api, attempt, type ApiError, type Result } from "../api/client";
import { FINAL_WORKFLOW_STATUSES, isOneOf, TASK_STATUSES, type HistoryEntry, type Instrument, type LiveEvent, type Signature, type Task, type Workflow } from "../api/types";
import { ChainBanner, useChainCheck } from "../components/ChainCheck";
import { CompleteDialog } from "../components/CompleteDialog";
import { ActionDialog, type ActionRequest } from "../components/Dialog";
import { RecordDownloads } from "../components/RecordDownloads";
import { ReleaseBadge } from "../components/ReleaseBadge";
import { SignatureList } from "../components/SignatureList";
import { SignDialog } from "../components/SignDialog";
import { LiveIndicator } from "../components/LiveIndicator";
import { StatusBadge } from "../components/StatusBadge";
import { Timeline } from "../components/Timeline";
import { TaskDetail, type TaskVerb } from "../components/TaskDetail";
import { useVirtualRows } from "../components/useVirtualRows";
import { WorkflowGraph, type GraphNodeTask } from "../components/WorkflowGraph";
import { CHAIN_MARK_TEXT, chainMarks, type ChainMark } from "../lib/chain";
import { formatDuration, formatTime, secondsBetween, timeZoneLabel } from "../lib/format";
import { headline } from "../lib/headline";
import { traceUrl } from "../lib/trace";
import { describePlace, placesInLine, waitingSpans } from "../lib/waiting";
import { applyEvents } from "../live/apply";
import { useLiveFeed } from "../live/useLive";
import { navigate, workflowHref } from "../router";

type WorkflowVerb = "cancel" | "pause" | "resume";

/** An operator action on the workflow; each answers with the workflow as it is now. */
function postWorkflowAction(workflow_id: string, verb: WorkflowVerb, reason: string) {
  const init = { params: { path: { workflow_id } }, body: { reason } };
  switch (verb) {
    case "cancel":
      return api.POST("/api/workflows/{workflow_id}/cancel", init);
    case "pause":
      return api.POST("/api/workflows/{workflow_id}/pause", init);
    case "resume":
      return api.POST("/api/workflows/{workflow_id}/resume", init);
  }
}

/** An operator action on one task (outputs: only to complete a manual step). */
function postTaskAction(workflow_id: string, name: string, verb: TaskVerb, reason: string, outputs?: Record<string, unknown>) {
  const params = { path: { workflow_id, name } };
  switch (verb) {
    case "retry":
      return api.POST("/api/workflows/{workflow_id}/tasks/{name}/retry", { params, body: { reason } });
    case "skip":
      return api.POST("/api/workflows/{workflow_id}/tasks/{name}/skip", { params, body: { reason } });
    case "complete":
      return api.POST("/api/workflows/{workflow_id}/tasks/{name}/complete", { params, body: { reason, outputs } });
  }
}

/** How long to leave between re-reads of a workflow of `n` tasks while events arrive. */
const refreshGap = (n: number) => (n > 2000 ? 4000 : n > 300 ? 1500 : 250);
const HISTORY_ROW = 29;

const History = memo(function History({ history, marks }: { history: HistoryEntry[]; marks?: Map<number, ChainMark> }) {
  const v = useVirtualRows(history.length, HISTORY_ROW);
  const [first, last] = v.range;
  const columns = marks ? 8 : 7;
  return (
    <div className="table-scroll history-scroll" ref={v.ref} onScroll={v.onScroll} tabIndex={0} role="region" aria-label={`History, ${history.length} changes`}>
      <table className="data compact history">
        <thead>
          <tr>
            <th scope="col" className="col-time">
              Time
            </th>
            <th scope="col">Task</th>
            <th scope="col" className="col-num">
              Attempt
            </th>
            <th scope="col" className="col-change">
              Change
            </th>
            <th scope="col">Actor</th>
            <th scope="col">Reason</th>
            <th scope="col" className="col-hash">
              Hash
            </th>
            {marks && (
              <th scope="col" className="col-chain">
                Chain
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {first > 0 && (
            <tr aria-hidden="true" className="spacer">
              <td colSpan={columns} style={{ height: first * HISTORY_ROW }} />
            </tr>
          )}
          {history.slice(first, last).map((h) => (
            <tr key={h.id} data-history={h.id} data-chain={marks?.get(h.id)} className={isSignatureRow(h) ? "signature-row" : undefined}>
              <td className="nowrap">{formatTime(h.at)}</td>
              <td title={h.task_name ?? "the workflow"}>{h.task_name ?? <em>workflow</em>}</td>
              <td className="num">{h.attempt ?? ""}</td>
              <td className="nowrap">
                {h.from_status ? <StatusBadge status={h.from_status} small /> : <span className="muted">new</span>} → <StatusBadge status={h.to_status} small />
              </td>
              <td title={h.actor}>{h.actor}</td>
              <td className="reason" title={h.reason ?? ""}>
                {h.reason ?? ""}
              </td>
              <td className="nowrap">{h.hash ? <code title={`${h.seq != null ? `#${h.seq} in the chain, ` : ""}SHA-256 ${h.hash}`}>{shortHash(h.hash)}</code> : <span className="muted">—</span>}</td>
              {marks && <td className={`nowrap chain-${marks.get(h.id)}`}>{CHAIN_MARK_TEXT[marks.get(h.id) ?? "unchained"]}</td>}
            </tr>
          ))}
          {last < history.length && (
            <tr aria-hidden="true" className="spacer">
              <td colSpan={columns} style={{ height: (history.length - last) * HISTORY_ROW }} />
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
});

function Headline({ workflow, onSelect }: { workflow: Workflow; onSelect: (name: string) => void }) {
  const { error, results } = useMemo(() => headline(workflow), [workflow]);
  if (!error && !results.length) return null;
  return (
    <div className="headline" data-headline>
      {error && (
        <div className="banner banner-err" role="note" data-first-error={error.task}>
          <strong>First error</strong> in{" "}
          <button type="button" className="link" onClick={() => onSelect(error.task)}>
            {error.task}
          </button>
          {error.at ? <span className="muted"> at {formatTime(error.at)}</span> : null}: <span className="mono pre-wrap">{error.message}</span>
          {error.more > 0 && <span className="muted"> (and {error.more} more failed)</span>}
        </div>
      )}
      {results.map((r) => (
        <div className="card result" key={r.task} data-result={r.task}>
          <div className="result-head">
            <h2>Result</h2>
            <span className="muted">
              from{" "}
              <button type="button" className="link" onClick={() => onSelect(r.task)}>
                {r.task}
              </button>
            </span>
          </div>
          <dl className="result-values">
            {r.values.map(([k, v]) => (
              <div key={k} className={typeof v === "boolean" ? (v ? "pass" : "fail") : undefined}>
                <dt>{k}</dt>
                <dd>{typeof v === "boolean" ? (v ? "yes ✓" : "no ✗") : typeof v === "number" ? String(Number(v.toPrecision(6))) : v}</dd>
              </div>
            ))}
          </dl>
        </div>
      ))}
    </div>
  );
}

const HISTORY_PAGE = 1000;

/** The whole history: the API pages it (at most 1000 entries, the next after the last id). */
async function readHistory(id: string): Promise<Result<HistoryEntry[]>> {
  const all: HistoryEntry[] = [];
  for (;;) {
    const after = all.length ? all[all.length - 1].id : undefined;
    const page = await attempt(() =>
      api.GET("/api/workflows/{workflow_id}/history", { params: { path: { workflow_id: id }, query: { after, limit: HISTORY_PAGE } } }),
    );
    if (!page.ok) return page;
    all.push(...page.data);
    if (page.data.length < HISTORY_PAGE) return { ...page, data: all };
  }
}

export function WorkflowPage({ id, task }: { id: string; task: string | null }) {
  const canOperate = useCan("operator");
  const canSign = useCan("reviewer");
  const isAdmin = useCan("admin");
  const traceTemplate = useSession().user?.trace_url_template;
  const [workflow, setWorkflow] = useState<Workflow | null>(null);
  const [history, setHistory] = useState<HistoryEntry[] | null>(null);
  const [signing, setSigning] = useState(false);
  const [signed, setSigned] = useState("");
  const [instruments, setInstruments] = useState<Instrument[]>([]);
  const [error, setError] = useState<ApiError | null>(null);
  const [action, setAction] = useState<ActionRequest | null>(null);
  const [completing, setCompleting] = useState<Task | null>(null);
  const [now, setNow] = useState(() => Date.now());
  const generation = useRef(0);
  const size = useRef(0);
  const historyRead = useRef(0);

  const load = useCallback(async () => {
    const mine = ++generation.current;
    const w = await attempt(() => api.GET("/api/workflows/{workflow_id}", { params: { path: { workflow_id: id } } }));
    if (mine !== generation.current) return;
    if (!w.ok) {
      setError(w.error);
      return;
    }
    size.current = w.data.tasks.length;
    performance.mark("laf:workflow-fetched", { detail: { tasks: w.data.tasks.length } });
    setWorkflow(w.data);
    setError(null);
    setNow(Date.now());
    // the history of a big workflow is large: read it less often while it runs
    const ended = isOneOf(FINAL_WORKFLOW_STATUSES, w.data.status);
    const waitingOn = [...new Set(w.data.tasks.filter((t) => t.instrument && (t.status === "waiting" || t.status === "queued")).map((t) => t.instrument!))];
    const historyDue = ended || Date.now() - historyRead.current > (w.data.tasks.length > 2000 ? 10000 : 0);
    const [h, ...lines] = await Promise.all([
      historyDue ? readHistory(id) : Promise.resolve(null),
      ...waitingOn.map((instrument_id) => attempt(() => api.GET("/api/instruments/{instrument_id}", { params: { path: { instrument_id } } }))),
    ]);
    if (mine !== generation.current) return;
    if (h?.ok) {
      historyRead.current = Date.now();
      setHistory(h.data);
    }
    setInstruments(lines.flatMap((l) => (l.ok ? [l.data] : [])));
  }, [id]);

  // one read at a time, and a pause between reads that grows with the workflow
  const reading = useRef<{ busy: boolean; again: boolean; timer: ReturnType<typeof setTimeout> | null }>({ busy: false, again: false, timer: null });
  const reread = useCallback(() => {
    const r = reading.current;
    if (r.busy || r.timer) {
      r.again = true;
      return;
    }
    r.timer = setTimeout(async () => {
      r.timer = null;
      r.busy = true;
      r.again = false;
      await load();
      r.busy = false;
      if (r.again) reread();
    }, refreshGap(size.current));
  }, [load]);
  useEffect(
    () => () => {
      if (reading.current.timer) clearTimeout(reading.current.timer);
    },
    [],
  );

  useEffect(() => {
    setWorkflow(null);
    setHistory(null);
    void load();
  }, [load]);

  // live events: gathered, then applied in one pass per frame (a 10,000-task run sends ~30,000)
  const pending = useRef<LiveEvent[]>([]);
  const frame = useRef(0);
  const onEvent = useCallback(
    (e: LiveEvent) => {
      if (e.workflow_id !== id) return;
      pending.current.push(e);
      if (frame.current) return;
      frame.current = requestAnimationFrame(() => {
        frame.current = 0;
        const events = pending.current.splice(0);
        setWorkflow((w) => w && applyEvents(w, events));
        reread();
      });
    },
    [id, reread],
  );
  useEffect(() => () => cancelAnimationFrame(frame.current), []);
  const mode = useLiveFeed(onEvent, load, id, 1500);

  // running bars of the timeline grow while anything runs
  const active = workflow && !isOneOf(FINAL_WORKFLOW_STATUSES, workflow.status);
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), size.current > 2000 ? 5000 : 1000);
    return () => clearInterval(t);
  }, [active]);

  const selected = useMemo(() => (workflow && task ? workflow.tasks.find((t) => t.name === task) ?? null : null), [workflow, task]);
  const waiting = useMemo(() => waitingSpans(history ?? []), [history]);
  const places = useMemo(() => (workflow ? placesInLine(workflow.tasks, instruments) : new Map()), [workflow, instruments]);
  const graphTasks = useMemo<GraphNodeTask[]>(
    () =>
      workflow?.tasks.map((t) => {
        const p = places.get(t.name);
        return { name: t.name, depends_on: t.depends_on, status: t.status, executor: t.executor, instrument: t.instrument, attempt: t.attempt, note: p && t.status === "waiting" ? describePlace(p) : null };
      }) ?? [],
    [workflow, places],
  );

  // checked again when the history gains rows
  const chain = useChainCheck(id, isAdmin, history ? `${history.length}:${history.at(-1)?.id}` : null);
  const marks = useMemo(() => (history && chain?.state === "done" ? chainMarks(history, chain.result) : undefined), [history, chain]);
  const onSigned = useCallback(
    (s: Signature) => {
      setSigning(false);
      setSigned(`Signed: ${s.meaning} by ${s.full_name || s.signer} at ${formatTime(s.at)}.`);
      void load();
    },
    [load],
  );

  const select = useCallback((name: string | null) => navigate(workflowHref(id, name ?? undefined), true), [id]);

  const workflowAction = (verb: WorkflowVerb) => {
    const titles = { cancel: "Cancel workflow", pause: "Pause workflow", resume: "Resume workflow" };
    const intros = {
      cancel: "No new task starts, running tasks are stopped and the workflow ends cancelled.",
      pause: "Nothing new starts; running tasks finish. Resume continues where it stopped.",
      resume: "Tasks whose dependencies are met start again.",
    };
    setAction({
      title: titles[verb],
      intro: (
        <p>
          {intros[verb]} <strong>{workflow?.name}</strong>
        </p>
      ),
      confirmLabel: titles[verb],
      danger: verb === "cancel",
      run: (reason) => attempt(() => postWorkflowAction(id, verb, reason)),
      describe: (w) => `Accepted: the workflow is now ${w.status}.`,
    });
  };

  const taskAction = (t: Task, verb: TaskVerb) => {
    if (verb === "complete") {
      // its outputs from a form of the step's outputs_schema, as in the inbox
      setCompleting(t);
      return;
    }
    const intros = {
      retry: "The task, and the tasks skipped because of it, run again; the workflow returns to running.",
      skip: "The task counts as done, without outputs; its dependents may start.",
    };
    setAction({
      title: `${verb[0].toUpperCase()}${verb.slice(1)} task ${t.name}`,
      intro: <p>{intros[verb]}</p>,
      confirmLabel: `${verb[0].toUpperCase()}${verb.slice(1)} task`,
      danger: verb === "skip",
      run: (reason) => attempt(() => postTaskAction(id, t.name, verb, reason)),
      describe: (w) => {
        const after = w.tasks.find((x) => x.name === t.name)?.status;
        return after ? `Accepted: task ${t.name} is now ${after}.` : `Accepted: the workflow is now ${w.status}.`;
      },
    });
  };

  if (error && !workflow)
    return (
      <section>
        <h1 tabIndex={-1}>Workflow</h1>
        <p className="banner banner-err" role="alert">
          {error.status === 404 ? `No workflow with id ${id}.` : `Could not read the workflow: ${error.message}`}
        </p>
        <a href="#/workflows">Back to the list</a>
      </section>
    );
  if (!workflow) return <p className="muted">Loading…</p>;

  const ended = isOneOf(FINAL_WORKFLOW_STATUSES, workflow.status);
  const duration = workflow.started_at ? secondsBetween(workflow.started_at, workflow.finished_at ?? new Date(now).toISOString()) : null;
  const trace = traceUrl(traceTemplate, workflow.trace_id);
  const counts = TASK_STATUSES.map((s) => [s, 0] as [string, number]);
  for (const t of workflow.tasks) counts[TASK_STATUSES.indexOf(t.status)][1]++;
  return (
    <section aria-labelledby="wf-title" className="workflow-page" data-workflow-status={workflow.status}>
      <nav className="crumbs" aria-label="Breadcrumb">
        <a href="#/workflows">Workflows</a> / <span>{workflow.name}</span>
      </nav>
      <div className="page-head">
        <h1 id="wf-title" tabIndex={-1}>
          {workflow.name}
        </h1>
        <StatusBadge status={workflow.status} />
        {ended && <ReleaseBadge release={workflow.release} />}
        <LiveIndicator mode={mode} />
        {canOperate && (
        <div className="actions" role="group" aria-label="Workflow actions">
          {/* only what the API allows now: pause a running workflow, resume a paused one, cancel an unfinished one */}
          <button type="button" onClick={() => workflowAction("pause")} disabled={workflow.status !== "running"}>
            Pause
          </button>
          <button type="button" onClick={() => workflowAction("resume")} disabled={workflow.status !== "paused"}>
            Resume
          </button>
          <button type="button" className="danger" onClick={() => workflowAction("cancel")} disabled={ended}>
            Cancel
          </button>
        </div>
        )}
      </div>
      {error && (
        <p className="banner banner-err" role="alert">
          Could not refresh: {error.message}
        </p>
      )}
      <div className="results-and-review">
        <Headline workflow={workflow} onSelect={select} />
        <div className="card review" aria-labelledby="review-title" role="region" data-review>
          <div className="card-head">
            <h2 id="review-title">Review and release</h2>
            {ended && <ReleaseBadge release={workflow.release} small />}
            {canSign && (
              <div className="actions">
                <button type="button" className="primary" onClick={() => (setSigned(""), setSigning(true))} disabled={!ended} title={ended ? undefined : "Results can be signed once the workflow has finished"}>
                  Sign
                </button>
              </div>
            )}
          </div>
          <p className="small muted" data-requires-approval={workflow.requires_approval}>
            Released by a review, then an approval by someone else
            {workflow.requires_approval ? "; this workflow's results count only once released." : " (not required for this workflow)."}
          </p>
          <SignatureList signatures={workflow.signatures ?? []} />
          <p role="status" className="small" data-signed>
            {signed}
          </p>
          <RecordDownloads workflowId={workflow.id} />
        </div>
      </div>
      <dl className="facts">
        <div>
          <dt>Tasks</dt>
          <dd>
            {workflow.progress.total - workflow.progress.unfinished}/{workflow.progress.total} finished
            {workflow.progress.failed ? `, ${workflow.progress.failed} failed` : ""}
          </dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>
            {formatTime(workflow.created_at)} by {workflow.created_by}
          </dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{formatDuration(duration)}</dd>
        </div>
        <div>
          <dt>Id</dt>
          <dd>
            <code className="break">{workflow.id}</code>
          </dd>
        </div>
        {trace && (
          <div>
            <dt>Trace</dt>
            <dd>
              <a href={trace} target="_blank" rel="noopener noreferrer" data-trace={workflow.trace_id}>
                Open the trace<span className="sr-only"> of this workflow (new tab)</span>
              </a>
            </dd>
          </div>
        )}
        {Object.keys(workflow.labels).length > 0 && (
          <div>
            <dt>Labels</dt>
            <dd className="chips">
              {Object.entries(workflow.labels).map(([k, v]) => (
                <a className="chip" key={k} href={`#/workflows?label=${encodeURIComponent(`${k}=${v}`)}`}>
                  {k}={v}
                </a>
              ))}
            </dd>
          </div>
        )}
      </dl>
      {workflow.description && <p className="description">{workflow.description}</p>}

      <div className="card">
        <div className="card-head">
          <h2>Graph</h2>
          <ul className="legend-states" aria-label="Tasks by state">
            {counts.map(([s, n]) => (
              <li key={s} className={n ? undefined : "none"}>
                <i className={`swatch status-${s}`} aria-hidden="true" /> {s} {n ? <strong>{n.toLocaleString()}</strong> : null}
              </li>
            ))}
          </ul>
        </div>
        <p className="hint">Select a task (click, or Tab then Enter) to see its outputs, error and actions. Fan-outs are drawn as one box: select it to expand.</p>
        <WorkflowGraph tasks={graphTasks} selected={selected?.name} onSelect={select} label={`Task graph of ${workflow.name}`} />
      </div>

      {selected ? (
        <TaskDetail
          task={selected}
          onAction={(verb) => taskAction(selected, verb)}
          onClose={() => select(null)}
          workflowStatus={workflow.status}
          place={places.get(selected.name)}
          waits={waiting.get(selected.name)}
        />
      ) : null}

      <div className="card">
        <h2>Timeline</h2>
        <Timeline workflow={workflow} now={now} waiting={waiting} selected={selected?.name} onSelect={select} />
      </div>

      <div className="card">
        <div className="card-head">
          <h2>History</h2>
          <span className="muted small">times in {timeZoneLabel()}</span>
        </div>
        {chain && <ChainBanner check={chain} />}
        {history === null ? <p className="muted">Loading…</p> : <History history={history} marks={marks} />}
      </div>
      {signing && (
        <SignDialog
          workflowId={workflow.id}
          workflowName={workflow.name}
          resultsSha256={workflow.results_sha256}
          suggested={workflow.release === "awaiting approval" ? "approved" : "reviewed"}
          onClose={() => setSigning(false)}
          onSigned={onSigned}
        />
      )}
      {action && <ActionDialog request={action} onClose={() => setAction(null)} onDone={() => void load()} />}
      {completing && workflow && (
        <CompleteDialog
          step={{ workflow_id: id, workflow_name: workflow.name, task_name: completing.name, params: completing.params }}
          onClose={() => setCompleting(null)}
          onDone={() => void load()}
        />
      )}
    </section>
  );
}
