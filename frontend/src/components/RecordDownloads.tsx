import { useState } from "react";
import { fetchRecord, saveBlob, type RecordFormat } from "../api/audit";

const LABEL: Record<RecordFormat, string> = { json: "Record (JSON)", pdf: "Batch record (PDF)" };

/**
 * The workflow's record, saved as a file. The session is a cookie plus the
 * X-Requested-With header, which a plain link cannot send: so fetch, then save the blob.
 */
export function RecordDownloads({ workflowId }: { workflowId: string }) {
  const [busy, setBusy] = useState<RecordFormat | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const download = async (format: RecordFormat) => {
    setBusy(format);
    setProblem(null);
    const answer = await fetchRecord(workflowId, format);
    setBusy(null);
    if (answer.ok) saveBlob(answer.data.blob, answer.data.filename);
    else setProblem(`${LABEL[format]}: ${answer.error.message}${answer.error.status ? ` (HTTP ${answer.error.status})` : ""}`);
  };
  return (
    <div className="downloads">
      <div className="actions" role="group" aria-label="Download the record">
        {(["json", "pdf"] as const).map((f) => (
          <button type="button" key={f} onClick={() => void download(f)} disabled={busy !== null} data-download={f}>
            {busy === f ? (
              "Preparing…"
            ) : (
              <>
                <span aria-hidden="true">⤓ </span>
                {LABEL[f]}
              </>
            )}
          </button>
        ))}
      </div>
      {problem && (
        <p className="field-error" role="alert">
          Could not download {problem}
        </p>
      )}
    </div>
  );
}
