// Cancel or retry several workflows with one reason; each is its own call (the
// per-workflow endpoints), and each one's answer is reported.
import { useEffect, useId, useRef, useState } from "react";
import { api, attempt } from "../api/client";
import type { Workflow } from "../api/types";
import { bulkApplies, runBulk, type BulkCalls, type BulkResult, type BulkVerb } from "../lib/listView";
import { Modal } from "./Dialog";

export const bulkCalls: BulkCalls = {
  cancel: (workflow_id, reason) => attempt(() => api.POST("/api/workflows/{workflow_id}/cancel", { params: { path: { workflow_id } }, body: { reason } })),
  read: (workflow_id) => attempt(() => api.GET("/api/workflows/{workflow_id}", { params: { path: { workflow_id } } })),
  retry: (workflow_id, name, reason) => attempt(() => api.POST("/api/workflows/{workflow_id}/tasks/{name}/retry", { params: { path: { workflow_id, name } }, body: { reason } })),
};

const TITLE: Record<BulkVerb, (n: number) => string> = {
  cancel: (n) => `Cancel ${n} workflow${n === 1 ? "" : "s"}`,
  retry: (n) => `Retry the failed tasks of ${n} workflow${n === 1 ? "" : "s"}`,
};

export function BulkDialog({ verb, selected, onClose, onDone, calls = bulkCalls }: { verb: BulkVerb; selected: Workflow[]; onClose: () => void; onDone?: () => void; calls?: BulkCalls }) {
  // as selected when it opened: the list may clear its selection once it is done
  const [targets] = useState(() => selected.filter((w) => bulkApplies(verb, w)));
  const skipped = useState(() => selected.length - targets.length)[0];
  const [reason, setReason] = useState("");
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [results, setResults] = useState<BulkResult[] | null>(null);
  const id = useId();
  const reasonMissing = !reason.trim();
  const finished = results !== null && !busy;

  const submit = async (ev: React.FormEvent) => {
    ev.preventDefault();
    setTouched(true);
    if (reasonMissing || busy || results || !targets.length) return;
    setBusy(true);
    setResults([]);
    await runBulk(verb, targets, reason.trim(), calls, (r) => setResults((now) => [...(now ?? []), r]));
    setBusy(false);
    onDone?.();
  };
  const done = results?.filter((r) => r.ok).length ?? 0;
  // the submit button goes once it is done: focus to Close, so the keyboard keeps its place
  const closeButton = useRef<HTMLButtonElement>(null);
  const isDone = Boolean(finished);
  useEffect(() => {
    if (isDone) closeButton.current?.focus();
  }, [isDone]);
  return (
    <Modal title={TITLE[verb](targets.length)} onClose={onClose}>
      {() => (
        <form onSubmit={submit} noValidate data-bulk={verb}>
          <div className="dialog-intro">
            <p>
              {verb === "cancel" ? "No new task starts, running tasks are stopped; each workflow ends cancelled." : "Each failed task, and the tasks skipped because of it, run again."}
            </p>
            {skipped > 0 && (
              <p className="muted small" data-bulk-skipped={skipped}>
                {skipped} selected workflow{skipped === 1 ? "" : "s"} {verb === "cancel" ? "already finished" : "did not fail"} and {skipped === 1 ? "is" : "are"} left alone.
              </p>
            )}
          </div>
          <div className="field">
            <label htmlFor={`${id}-reason`}>Reason, for each of them (recorded in the audit trail)</label>
            <textarea
              id={`${id}-reason`}
              rows={2}
              value={reason}
              onChange={(e) => setReason(e.target.value)}
              aria-invalid={touched && reasonMissing}
              aria-describedby={touched && reasonMissing ? `${id}-reason-err` : undefined}
              disabled={busy || finished}
            />
            {touched && reasonMissing && (
              <p className="field-error" id={`${id}-reason-err`}>
                A reason is required.
              </p>
            )}
          </div>
          <ul className="bulk-results" aria-label="Workflows">
            {targets.map((w) => {
              const r = results?.find((x) => x.id === w.id);
              return (
                <li key={w.id} data-bulk-result={r ? (r.ok ? "ok" : "error") : "waiting"} data-workflow={w.id}>
                  <strong>{w.name}</strong> <span className={r ? (r.ok ? "text-ok" : "text-bad") : "muted"}>{r ? r.text : busy ? "…" : `(${w.status})`}</span>
                </li>
              );
            })}
          </ul>
          {finished && (
            <p className={done === targets.length ? "answer answer-ok" : "answer answer-err"} role="status" data-answer={done === targets.length ? "ok" : "error"}>
              {done} of {targets.length} done{done < targets.length ? `; ${targets.length - done} refused` : ""}.
            </p>
          )}
          <div className="dialog-buttons">
            {!finished && (
              <button type="submit" className={verb === "cancel" ? "danger" : "primary"} disabled={busy || !targets.length}>
                {busy ? "Sending…" : TITLE[verb](targets.length)}
              </button>
            )}
            <button type="button" onClick={onClose} ref={closeButton}>
              Close
            </button>
          </div>
        </form>
      )}
    </Modal>
  );
}
