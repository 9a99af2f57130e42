// Each history row's standing in the hash chains, from one answer of
// GET /api/audit/verify?workflow_id=… (the API checks the chains; this only reads
// its verdict). A workflow's rows form one chain per task plus one of the
// workflow's own rows; `seq` is a row's place in its chain.
import type { HistoryEntry, Verification } from "../api/types";

/** verified: proven by the check; broken: the check failed here; unverified: not proven (the check stopped); unchained: no hash. */
export type ChainMark = "verified" | "broken" | "unverified" | "unchained";

const chainOf = (h: HistoryEntry) => h.task_id ?? "workflow";

export function chainMarks(history: HistoryEntry[], check: Verification): Map<number, ChainMark> {
  const marks = new Map<number, ChainMark>();
  const brokenId = check.ok ? undefined : check.broken_at?.history_id;
  const broken = brokenId == null ? undefined : history.find((h) => h.id === brokenId);
  for (const h of history) {
    if (!h.hash) marks.set(h.id, "unchained");
    else if (check.ok) marks.set(h.id, "verified");
    else if (h === broken) marks.set(h.id, "broken");
    // the check stops at its first break: only the rows before it in the same chain are proven
    else if (broken && chainOf(h) === chainOf(broken) && h.seq != null && broken.seq != null && h.seq < broken.seq) marks.set(h.id, "verified");
    else marks.set(h.id, "unverified");
  }
  return marks;
}

export const CHAIN_MARK_TEXT: Record<ChainMark, string> = {
  verified: "✓ verified",
  broken: "✗ broken",
  unverified: "not verified",
  unchained: "no hash",
};
