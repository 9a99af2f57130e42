import { useEffect, useId, useRef, useState, type ReactNode } from "react";
import type { Result } from "../api/client";
import type { Workflow } from "../api/types";

/** A modal dialog: focus moves in, Tab stays in, Escape closes, focus returns to the opener. */
export function Modal({ title, onClose, children }: { title: string; onClose: () => void; children: (titleId: string) => ReactNode }) {
  const titleId = useId();
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    const first = box.current?.querySelector<HTMLElement>("[autofocus], textarea, input, select, button");
    first?.focus();
    // back to the opener; if an action disabled it (Cancel on a now cancelled workflow) or it
    // is gone, to the page's heading, so the keyboard keeps its place on the page
    return () => {
      setTimeout(() => {
        const usable = opener && opener.isConnected && !opener.matches(":disabled") && opener !== document.body;
        const target = usable ? opener : document.querySelector<HTMLElement>("main h1");
        if (target && !usable && !target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
        target?.focus();
      }, 0);
    };
  }, []);
  // Escape closes it also when focus fell out of it (a button that went away once done)
  const closeRef = useRef(onClose);
  closeRef.current = onClose;
  useEffect(() => {
    const onDocumentKey = (ev: KeyboardEvent) => {
      if (ev.key === "Escape" && !box.current?.contains(document.activeElement)) closeRef.current();
    };
    document.addEventListener("keydown", onDocumentKey);
    return () => document.removeEventListener("keydown", onDocumentKey);
  }, []);
  const onKeyDown = (ev: React.KeyboardEvent) => {
    if (ev.key === "Escape") {
      ev.stopPropagation();
      onClose();
    } else if (ev.key === "Tab" && box.current) {
      const items = [...box.current.querySelectorAll<HTMLElement>("button, textarea, input, select, a[href], [tabindex]:not([tabindex='-1'])")].filter(
        (el) => !el.hasAttribute("disabled"),
      );
      if (!items.length) return;
      const first = items[0];
      const last = items[items.length - 1];
      if (ev.shiftKey && document.activeElement === first) {
        ev.preventDefault();
        last.focus();
      } else if (!ev.shiftKey && document.activeElement === last) {
        ev.preventDefault();
        first.focus();
      }
    }
  };
  return (
    <div className="backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className="dialog" role="dialog" aria-modal="true" aria-labelledby={titleId} ref={box} onKeyDown={onKeyDown}>
        <h2 id={titleId}>{title}</h2>
        {children(titleId)}
      </div>
    </div>
  );
}

export interface ActionRequest {
  title: string;
  intro?: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  /** also ask for outputs (a JSON object), e.g. to complete a manual task */
  withOutputs?: boolean;
  /** the operator action; each answers with the workflow as it is now */
  run: (reason: string, outputs?: Record<string, unknown>) => Promise<Result<Workflow>>;
  describe?: (workflow: Workflow) => string;
}

/** Ask for a reason (and outputs), send the action, show the server's answer. */
export function ActionDialog({ request, onClose, onDone }: { request: ActionRequest; onClose: () => void; onDone?: () => void }) {
  const [reason, setReason] = useState("");
  const [outputs, setOutputs] = useState("{}");
  const [busy, setBusy] = useState(false);
  const [answer, setAnswer] = useState<{ ok: boolean; text: string } | null>(null);
  const [touched, setTouched] = useState(false);
  const reasonId = useId();
  const outputsId = useId();
  let outputsError: string | null = null;
  let parsed: Record<string, unknown> | undefined;
  if (request.withOutputs) {
    try {
      const value = JSON.parse(outputs || "{}");
      if (typeof value !== "object" || value === null || Array.isArray(value)) outputsError = "outputs must be a JSON object";
      else parsed = value;
    } catch (err) {
      outputsError = `not JSON: ${(err as Error).message}`;
    }
  }
  const reasonMissing = !reason.trim();
  const submit = async (ev: React.FormEvent) => {
    ev.preventDefault();
    setTouched(true);
    if (reasonMissing || outputsError || busy) return;
    setBusy(true);
    const res = await request.run(reason.trim(), parsed);
    setBusy(false);
    if (res.ok) {
      setAnswer({ ok: true, text: request.describe ? request.describe(res.data) : `Done (HTTP ${res.status}).` });
      onDone?.();
    } else {
      setAnswer({ ok: false, text: `Refused${res.error.status ? ` (HTTP ${res.error.status})` : ""}: ${res.error.message}` });
    }
  };
  return (
    <Modal title={request.title} onClose={onClose}>
      {() => (
        <form onSubmit={submit} noValidate>
          {request.intro && <div className="dialog-intro">{request.intro}</div>}
          <div className="field">
            <label htmlFor={reasonId}>Reason (recorded in the audit trail)</label>
            <textarea
              id={reasonId}
              rows={3}
              value={reason}
              onChange={(e) => setReason(e.target.value)}
              aria-invalid={touched && reasonMissing}
              aria-describedby={touched && reasonMissing ? `${reasonId}-err` : undefined}
              disabled={busy || answer?.ok}
              autoFocus
            />
            {touched && reasonMissing && (
              <p className="field-error" id={`${reasonId}-err`}>
                A reason is required.
              </p>
            )}
          </div>
          {request.withOutputs && (
            <div className="field">
              <label htmlFor={outputsId}>Outputs (JSON object)</label>
              <textarea
                id={outputsId}
                className="code"
                rows={5}
                value={outputs}
                onChange={(e) => setOutputs(e.target.value)}
                aria-invalid={!!outputsError}
                disabled={busy || answer?.ok}
              />
              {outputsError && <p className="field-error">{outputsError}</p>}
            </div>
          )}
          {answer && (
            <p className={answer.ok ? "answer answer-ok" : "answer answer-err"} role={answer.ok ? "status" : "alert"} data-answer={answer.ok ? "ok" : "error"}>
              {answer.text}
            </p>
          )}
          <div className="dialog-buttons">
            {!answer?.ok && (
              <button type="submit" className={request.danger ? "danger" : "primary"} disabled={busy}>
                {busy ? "Sending…" : request.confirmLabel}
              </button>
            )}
            <button type="button" onClick={onClose}>
              Close
            </button>
          </div>
        </form>
      )}
    </Modal>
  );
}
