// Complete a manual step: its instructions, a form for its outputs (generated from
// params.outputs_schema where the step gives one, else name/value rows or JSON),
// and the reason the audit trail keeps. Sends POST …/tasks/{name}/complete.
import { lazy, Suspense, useEffect, useId, useRef, useState } from "react";
import { api, attempt } from "../api/client";
import { instructionsOf, outputsProblems, outputsSchemaOf, outputsToRows, parseOutputs, rowsToOutputs, type OutputRow } from "../lib/outputs";
import { Modal } from "./Dialog";

const ParamsForm = lazy(() => import("./ParamsForm"));

export interface ManualStep {
  workflow_id: string;
  workflow_name: string;
  task_name: string;
  params: Record<string, unknown>;
}

type Editor = "form" | "rows" | "json";

export function CompleteDialog({ step, onClose, onDone }: { step: ManualStep; onClose: () => void; onDone?: () => void }) {
  const schema = outputsSchemaOf(step.params);
  const instructions = instructionsOf(step.params);
  const [editor, setEditor] = useState<Editor>(schema ? "form" : "rows");
  const [formValue, setFormValue] = useState<Record<string, unknown>>({});
  const [rows, setRows] = useState<OutputRow[]>([{ key: "", value: "" }]);
  const [json, setJson] = useState("{}");
  const [reason, setReason] = useState("");
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [answer, setAnswer] = useState<{ ok: boolean; text: string } | null>(null);
  const id = useId();

  const current = (): { outputs: Record<string, unknown> | null; problems: string[] } => {
    if (editor === "form") return { outputs: formValue, problems: [] };
    if (editor === "rows") {
      const r = rowsToOutputs(rows);
      return { outputs: r.errors.length ? null : r.outputs, problems: r.errors };
    }
    const p = parseOutputs(json);
    return { outputs: p.outputs, problems: p.error ? [p.error] : [] };
  };
  const { outputs, problems: shapeProblems } = current();
  const problems = [...shapeProblems, ...(outputs ? outputsProblems(schema, outputs) : [])];
  const reasonMissing = !reason.trim();

  const switchTo = (next: Editor) => {
    const value = outputs ?? {};
    if (next === "json") setJson(JSON.stringify(value, null, 2));
    if (next === "rows") setRows(outputsToRows(value));
    if (next === "form") setFormValue(value);
    setEditor(next);
  };

  const submit = async (ev: React.FormEvent) => {
    ev.preventDefault();
    setTouched(true);
    if (reasonMissing || problems.length || !outputs || busy) {
      // the first problem in view, so the first Submit never seems to do nothing
      setTimeout(() => document.querySelector<HTMLElement>(".dialog [aria-invalid='true'], .dialog .field-error")?.scrollIntoView?.({ block: "center" }), 0);
      return;
    }
    setBusy(true);
    const res = await attempt(() =>
      api.POST("/api/workflows/{workflow_id}/tasks/{name}/complete", {
        params: { path: { workflow_id: step.workflow_id, name: step.task_name } },
        body: { reason: reason.trim(), outputs },
      }),
    );
    setBusy(false);
    if (res.ok) {
      const after = res.data.tasks.find((t) => t.name === step.task_name)?.status ?? res.data.status;
      setAnswer({ ok: true, text: `Accepted: task ${step.task_name} is now ${after}.` });
      onDone?.();
    } else setAnswer({ ok: false, text: `Refused${res.error.status ? ` (HTTP ${res.error.status})` : ""}: ${res.error.message}` });
  };

  const done = busy || answer?.ok;
  // the submit button goes once it is done: focus to Close, so the keyboard keeps its place
  const closeButton = useRef<HTMLButtonElement>(null);
  const isDone = Boolean(answer?.ok);
  useEffect(() => {
    if (isDone) closeButton.current?.focus();
  }, [isDone]);
  return (
    <Modal title={`Complete task ${step.task_name}`} onClose={onClose}>
      {() => (
        <form onSubmit={submit} noValidate data-complete-dialog={step.task_name}>
          <div className="dialog-intro">
            <p>
              Step <strong>{step.task_name}</strong> of <strong>{step.workflow_name}</strong>.
            </p>
            {instructions ? <p className="instructions">{instructions}</p> : <p className="muted">No instructions given.</p>}
          </div>
          <fieldset className="outputs-editor" disabled={done}>
            <legend>Outputs</legend>
            <div className="label-row">
              {schema && editor !== "form" && (
                <button type="button" className="link" onClick={() => switchTo("form")}>
                  Use the form
                </button>
              )}
              {editor !== "rows" && !schema && (
                <button type="button" className="link" onClick={() => switchTo("rows")}>
                  Edit as name/value rows
                </button>
              )}
              {editor !== "json" && (
                <button type="button" className="link" onClick={() => switchTo("json")}>
                  Edit as JSON
                </button>
              )}
            </div>
            {editor === "form" && schema && (
              <div className="rjsf-wrap" role="group" aria-label="Outputs form">
                <Suspense fallback={<p className="muted">Loading the form…</p>}>
                  <ParamsForm schema={schema} value={formValue} idPrefix={`${id}-o`} onChange={setFormValue} />
                </Suspense>
              </div>
            )}
            {editor === "rows" && (
              <div className="output-rows">
                {rows.map((row, i) => (
                  <div className="output-row" key={i}>
                    <div className="field">
                      <label htmlFor={`${id}-k${i}`}>Name {i + 1}</label>
                      <input id={`${id}-k${i}`} value={row.key} onChange={(e) => setRows(rows.map((r, j) => (j === i ? { ...r, key: e.target.value } : r)))} />
                    </div>
                    <div className="field">
                      <label htmlFor={`${id}-v${i}`}>Value {i + 1}</label>
                      <input id={`${id}-v${i}`} value={row.value} onChange={(e) => setRows(rows.map((r, j) => (j === i ? { ...r, value: e.target.value } : r)))} />
                    </div>
                    <button type="button" className="link" aria-label={`Remove row ${i + 1}`} onClick={() => setRows(rows.length > 1 ? rows.filter((_, j) => j !== i) : [{ key: "", value: "" }])}>
                      Remove
                    </button>
                  </div>
                ))}
                <button type="button" onClick={() => setRows([...rows, { key: "", value: "" }])}>
                  Add a value
                </button>
                <p className="muted small">A value is read as JSON where it is JSON (12, true, [1, 2]), else as text.</p>
              </div>
            )}
            {editor === "json" && (
              <div className="field">
                <label htmlFor={`${id}-json`}>Outputs (JSON object)</label>
                <textarea id={`${id}-json`} className="code" rows={6} value={json} onChange={(e) => setJson(e.target.value)} aria-invalid={touched && problems.length > 0} />
              </div>
            )}
            {touched && problems.length > 0 && (
              <ul className="field-error" id={`${id}-problems`} aria-live="polite">
                {problems.map((p) => (
                  <li key={p}>{p}</li>
                ))}
              </ul>
            )}
          </fieldset>
          <div className="field">
            <label htmlFor={`${id}-reason`}>Reason (recorded in the audit trail)</label>
            <textarea
              id={`${id}-reason`}
              rows={2}
              value={reason}
              onChange={(e) => setReason(e.target.value)}
              aria-invalid={touched && reasonMissing}
              aria-describedby={touched && reasonMissing ? `${id}-reason-err` : undefined}
              disabled={done}
            />
            {touched && reasonMissing && (
              <p className="field-error" id={`${id}-reason-err`}>
                A reason is required.
              </p>
            )}
          </div>
          {answer && (
            <p className={answer.ok ? "answer answer-ok" : "answer answer-err"} role={answer.ok ? "status" : "alert"} data-answer={answer.ok ? "ok" : "error"}>
              {answer.text}
            </p>
          )}
          <div className="dialog-buttons">
            {!answer?.ok && (
              <button type="submit" className="primary" disabled={busy}>
                {busy ? "Sending…" : "Complete task"}
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
