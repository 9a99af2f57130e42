import { useEffect, useId, useRef, useState } from "react";
import { shortHash, sign } from "../api/audit";
import { MEANINGS, type Meaning, type Signature } from "../api/types";
import { Modal } from "./Dialog";

const MEANING_TEXT: Record<Meaning, string> = {
  reviewed: "Reviewed: I checked these results",
  approved: "Approved: I release these results",
};

/**
 * Sign a finished workflow's results: the meaning, the password again (an
 * electronic signature is a fresh login) and an optional comment. A refusal
 * (401 wrong password, 403 a rule, 409 not finished) is shown here and the
 * dialog stays open; a signature closes it, and the Modal puts focus back on the opener.
 */
export function SignDialog({
  workflowId,
  workflowName,
  resultsSha256,
  suggested = "reviewed",
  onClose,
  onSigned,
}: {
  workflowId: string;
  workflowName: string;
  resultsSha256?: string | null;
  suggested?: Meaning;
  onClose: () => void;
  onSigned: (signature: Signature) => void;
}) {
  const [meaning, setMeaning] = useState<Meaning>(suggested);
  const [password, setPassword] = useState("");
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState(false);
  const [refusal, setRefusal] = useState<string | null>(null);
  const [touched, setTouched] = useState(false);
  const passwordRef = useRef<HTMLInputElement>(null);
  const passwordId = useId();
  const commentId = useId();
  const errorId = useId();
  const passwordMissing = !password;
  // after a wrong password, back to the field once it is enabled again
  const [refocus, setRefocus] = useState(0);
  useEffect(() => {
    if (refocus) passwordRef.current?.focus();
  }, [refocus]);

  const submit = async (ev: React.FormEvent) => {
    ev.preventDefault();
    setTouched(true);
    if (busy) return;
    if (passwordMissing) {
      passwordRef.current?.focus();
      return;
    }
    setBusy(true);
    setRefusal(null);
    const answer = await sign(workflowId, { meaning, password, ...(comment.trim() ? { comment: comment.trim() } : {}) });
    setBusy(false);
    if (answer.ok) {
      onSigned(answer.data);
      return;
    }
    const { status, message } = answer.error;
    setRefusal(`Refused${status ? ` (HTTP ${status})` : ""}: ${message}`);
    if (status === 401) {
      // a wrong password: type it again
      setPassword("");
      setTouched(false);
      setRefocus((n) => n + 1);
    }
  };

  return (
    <Modal title={`Sign ${workflowName}`} onClose={onClose}>
      {() => (
        <form onSubmit={submit} noValidate className="sign-form">
          <p className="dialog-intro">
            Your signature puts your name, its meaning and the time on these results
            {resultsSha256 ? (
              <>
                {" "}
                (SHA-256 <code title={resultsSha256}>{shortHash(resultsSha256)}</code>)
              </>
            ) : null}{" "}
            in the audit trail. If the results change later, it is marked stale.
          </p>
          <fieldset className="meanings" disabled={busy}>
            <legend>Meaning</legend>
            {MEANINGS.map((m) => (
              <label key={m} className="radio">
                <input type="radio" name="meaning" value={m} checked={meaning === m} onChange={() => setMeaning(m)} /> {MEANING_TEXT[m]}
              </label>
            ))}
          </fieldset>
          <div className="field">
            <label htmlFor={passwordId}>Your password</label>
            <input
              id={passwordId}
              ref={passwordRef}
              type="password"
              autoComplete="current-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              aria-invalid={touched && passwordMissing}
              aria-describedby={touched && passwordMissing ? `${passwordId}-err` : undefined}
              disabled={busy}
              required
            />
            {touched && passwordMissing && (
              <p className="field-error" id={`${passwordId}-err`}>
                Your password is required to sign.
              </p>
            )}
          </div>
          <div className="field">
            <label htmlFor={commentId}>Comment (optional)</label>
            <textarea id={commentId} rows={2} value={comment} onChange={(e) => setComment(e.target.value)} disabled={busy} />
          </div>
          {refusal && (
            <p className="answer answer-err" role="alert" id={errorId} data-answer="error">
              {refusal}
            </p>
          )}
          <div className="dialog-buttons">
            <button type="submit" className="primary" disabled={busy}>
              {busy ? "Signing…" : `Sign as ${meaning}`}
            </button>
            <button type="button" onClick={onClose}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </Modal>
  );
}
