export function StatusBadge({ status, small }: { status: string; small?: boolean }) {
  return (
    <span className={`badge status-${status}${small ? " badge-small" : ""}`} data-status={status}>
      {status}
    </span>
  );
}
