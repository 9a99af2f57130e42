// An administrator changes an instrument's status, capacity or calibration-due date
// from the lab board, with the reason the audit trail keeps (PATCH /api/instruments/{id}).
import { useEffect, useId, useRef, useState } from "react";
import { api, attempt } from "../api/client";
import { INSTRUMENT_STATUSES, type Instrument, type InstrumentPatch, type InstrumentStatus } from "../api/types";
import { Modal } from "./Dialog";

/** Only what changed, so the history records just that. */
export function instrumentChange(instrument: Instrument, form: { status: InstrumentStatus; capacity: string; calibration_due: string }): InstrumentPatch {
  const change: InstrumentPatch = {};
  if (form.status !== instrument.status) change.status = form.status;
  const capacity = Number(form.capacity);
  if (capacity !== instrument.capacity) change.capacity = capacity;
  const due = form.calibration_due || null;
  if (due !== (instrument.calibration_due ?? null)) change.calibration_due = due;
  return change;
}

export function InstrumentEditDialog({ instrument, onClose, onDone }: { instrument: Instrument; onClose: () => void; onDone?: () => void }) {
  const [status, setStatus] = useState<InstrumentStatus>(instrument.status);
  const [capacity, setCapacity] = useState(String(instrument.capacity));
  const [due, setDue] = useState(instrument.calibration_due ?? "");
  const [reason, setReason] = useState("");
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [answer, setAnswer] = useState<{ ok: boolean; text: string } | null>(null);
  const id = useId();
  const capacityBad = !/^\d+$/.test(capacity.trim()) || Number(capacity) < 1 || Number(capacity) > 1000;
  const reasonMissing = !reason.trim();
  const change = capacityBad ? {} : instrumentChange(instrument, { status, capacity, calibration_due: due });
  const nothing = !capacityBad && Object.keys(change).length === 0;

  const submit = async (ev: React.FormEvent) => {
    ev.preventDefault();
    setTouched(true);
    if (capacityBad || reasonMissing || nothing || busy) return;
    setBusy(true);
    const res = await attempt(() => api.PATCH("/api/instruments/{instrument_id}", { params: { path: { instrument_id: instrument.id } }, body: { ...change, reason: reason.trim() } }));
    setBusy(false);
    if (res.ok) {
      setAnswer({ ok: true, text: `Saved: ${res.data.name} is ${res.data.status}, ${res.data.capacity} slot${res.data.capacity === 1 ? "" : "s"}${res.data.calibration_due ? `, calibration due ${res.data.calibration_due}` : ""}.` });
      onDone?.();
    } else setAnswer({ ok: false, text: `Refused${res.error.status ? ` (HTTP ${res.error.status})` : ""}: ${res.error.message}` });
  };
  const done = busy || answer?.ok;
  const err = (field: string) => `${id}-${field}-err`;
  // the submit button goes once it is done: focus to Close, so the keyboard keeps its place
  const closeButton = useRef<HTMLButtonElement>(null);
  const isDone = Boolean(answer?.ok);
  useEffect(() => {
    if (isDone) closeButton.current?.focus();
  }, [isDone]);
  return (
    <Modal title={`Edit ${instrument.name}`} onClose={onClose}>
      {() => (
        <form onSubmit={submit} noValidate data-instrument-edit={instrument.id}>
          <p className="dialog-intro muted small mono">{instrument.id}</p>
          <div className="field">
            <label htmlFor={`${id}-status`}>Status</label>
            <select id={`${id}-status`} value={status} onChange={(e) => setStatus(e.target.value as InstrumentStatus)} disabled={done}>
              {INSTRUMENT_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor={`${id}-capacity`}>Capacity (tasks at once)</label>
            <input
              id={`${id}-capacity`}
              type="number"
              min={1}
              max={1000}
              inputMode="numeric"
              value={capacity}
              onChange={(e) => setCapacity(e.target.value)}
              aria-invalid={capacityBad}
              aria-describedby={capacityBad ? err("capacity") : undefined}
              disabled={done}
            />
            {capacityBad && (
              <p className="field-error" id={err("capacity")}>
                A whole number from 1 to 1000.
              </p>
            )}
          </div>
          <div className="field">
            <label htmlFor={`${id}-due`}>Calibration due</label>
            <input id={`${id}-due`} type="date" value={due} onChange={(e) => setDue(e.target.value)} disabled={done} />
          </div>
          <div className="field">
            <label htmlFor={`${id}-reason`}>Reason (recorded in the audit trail)</label>
            <textarea
              id={`${id}-reason`}
              rows={2}
              value={reason}
              onChange={(e) => setReason(e.target.value)}
              aria-invalid={touched && reasonMissing}
              aria-describedby={touched && reasonMissing ? err("reason") : undefined}
              disabled={done}
            />
            {touched && reasonMissing && (
              <p className="field-error" id={err("reason")}>
                A reason is required.
              </p>
            )}
          </div>
          {touched && nothing && !answer && <p className="field-error">Nothing changed.</p>}
          {answer && (
            <p className={answer.ok ? "answer answer-ok" : "answer answer-err"} role={answer.ok ? "status" : "alert"} data-answer={answer.ok ? "ok" : "error"}>
              {answer.text}
            </p>
          )}
          <div className="dialog-buttons">
            {!answer?.ok && (
              <button type="submit" className="primary" disabled={busy}>
                {busy ? "Saving…" : "Save"}
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
