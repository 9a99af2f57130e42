import type { Status } from "../api/types";

export function StatusBadge({ status, small }: { status: Status; small?: boolean }) {
  return (
    <span className={`badge status-${status}${small ? " badge-small" : ""}`} data-status={status}>
      {status}
    </span>
  );
}
