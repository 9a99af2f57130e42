// The audit trail's calls (issue #12): sign, check the hash chain, download the
// record. Their shapes are the generated ones (types.ts names them).
import { api, attempt, type Result } from "./client";
import type { HistoryEntry, SignRequest, Signature, Verification } from "./types";

/** A signature is a history row to "signed", from nothing. */
export function isSignatureRow(h: HistoryEntry): boolean {
  return h.to_status === "signed" && h.from_status === null;
}

/** Sign the workflow's results (role reviewer); 401 wrong password, 403 a rule, 409 not finished, 429 locked out. */
export function sign(workflow_id: string, body: SignRequest): Promise<Result<Signature>> {
  return attempt(() => api.POST("/api/workflows/{workflow_id}/signatures", { params: { path: { workflow_id } }, body }));
}

/** Check the history's hash chains (role admin): of one workflow, or of all. */
export function verifyChain(workflow_id?: string): Promise<Result<Verification>> {
  return attempt(() => api.GET("/api/audit/verify", { params: { query: { workflow_id } } }));
}

export type RecordFormat = "json" | "pdf";
const ACCEPT: Record<RecordFormat, string> = { json: "application/json", pdf: "application/pdf" };

/**
 * The workflow's record (JSON) or its batch record (PDF), as a file to save. The
 * session is a cookie plus the X-Requested-With header, which a plain link cannot
 * send: so it is fetched by the client, as a blob.
 */
export async function fetchRecord(workflow_id: string, format: RecordFormat): Promise<Result<{ blob: Blob; filename: string }>> {
  let disposition = "";
  const answer = await attempt(async () => {
    const a = await api.GET("/api/workflows/{workflow_id}/record", { params: { path: { workflow_id } }, headers: { Accept: ACCEPT[format] }, parseAs: "blob" });
    disposition = a.response.headers.get("Content-Disposition") ?? "";
    return a;
  });
  if (!answer.ok) return answer;
  const named = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition)?.[1];
  const filename = named ? decodeURIComponent(named) : `laf-record-${workflow_id}.${format}`;
  return { ok: true, status: answer.status, data: { blob: answer.data as Blob, filename } };
}

/** Hand a blob to the browser as a download. */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.style.display = "none";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A hash as people compare it: its first 10 hex digits. */
export const shortHash = (hash: string | null | undefined): string => (hash ? `${hash.slice(0, 10)}…` : "—");
