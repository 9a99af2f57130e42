import { useEffect, useState } from "react";
import type { ApiError } from "../api/client";
import { verifyChain } from "../api/audit";
import type { Verification } from "../api/types";

export type ChainCheckState = { state: "checking" } | { state: "done"; result: Verification } | { state: "failed"; error: ApiError };

/** An admin's check of the workflow's hash chain, again whenever `version` (the history read) changes. */
export function useChainCheck(workflowId: string, enabled: boolean, version: unknown): ChainCheckState | null {
  const [check, setCheck] = useState<ChainCheckState | null>(null);
  useEffect(() => {
    if (!enabled || version == null) return;
    let live = true;
    void verifyChain(workflowId).then((answer) => {
      if (!live) return;
      setCheck(answer.ok ? { state: "done", result: answer.data } : { state: "failed", error: answer.error });
    });
    return () => {
      live = false;
    };
  }, [workflowId, enabled, version]);
  return enabled ? (check ?? { state: "checking" }) : null;
}

/** "Chain verified (N rows)" or "Broken at row #id: reason", above the history. */
export function ChainBanner({ check }: { check: ChainCheckState }) {
  if (check.state === "checking")
    return (
      <p className="banner chain-banner" data-chain-check="checking" role="status">
        Checking the history's hash chain…
      </p>
    );
  if (check.state === "failed")
    return (
      <p className="banner banner-err chain-banner" data-chain-check="unknown" role="alert">
        Could not check the hash chain: {check.error.message}
      </p>
    );
  const r = check.result;
  if (r.ok)
    return (
      <p className="banner banner-ok chain-banner" data-chain-check="verified" role="status">
        ✓ Chain verified ({r.rows.toLocaleString()} {r.rows === 1 ? "row" : "rows"})
      </p>
    );
  return (
    <p className="banner banner-err chain-banner" data-chain-check="broken" role="alert">
      <strong>✗ {r.broken_at?.history_id == null ? "Broken" : `Broken at row #${r.broken_at.history_id}`}</strong>: {r.broken_at?.reason ?? "the check failed"}
    </p>
  );
}
