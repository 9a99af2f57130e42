import { shortHash } from "../api/audit";
import type { Signature } from "../api/types";
import { formatTime } from "../lib/format";

/** Who signed the results, meaning what, when; a stale signature (results changed since) says so. */
export function SignatureList({ signatures }: { signatures: Signature[] }) {
  if (!signatures.length) return <p className="muted" data-signatures="none">Not signed yet.</p>;
  return (
    <ul className="signatures" aria-label="Signatures">
      {signatures.map((s) => (
        <li key={s.id} data-signature={s.meaning} data-stale={s.stale || undefined} className={s.stale ? "stale" : undefined}>
          <div className="signature-head">
            <strong className="signature-meaning">{s.meaning === "approved" ? "Approved" : "Reviewed"}</strong> by{" "}
            <span className="signature-signer">
              {s.full_name || s.signer} <span className="muted">({s.signer})</span>
            </span>
            {s.stale && (
              <span className="badge badge-small badge-stale" title="The results changed after this signature (e.g. a task was retried); it no longer counts.">
                ⚠ stale
              </span>
            )}
          </div>
          <div className="small">
            <time dateTime={s.at}>{formatTime(s.at)}</time>
            <span className="muted">
              {" "}
              · results <code title={s.results_sha256}>{shortHash(s.results_sha256)}</code>
            </span>
            {s.stale && <span className="text-bad"> · results changed since: no longer counts</span>}
          </div>
          {s.comment && <p className="signature-comment">“{s.comment}”</p>}
        </li>
      ))}
    </ul>
  );
}
