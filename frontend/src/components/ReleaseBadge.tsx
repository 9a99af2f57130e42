import type { Release } from "../api/types";

const CLASS: Record<Release, string> = {
  released: "release-released",
  "awaiting review": "release-review",
  "awaiting approval": "release-approval",
};

/** Whether a finished workflow's results are released (reviewed and, if required, approved). */
export function ReleaseBadge({ release, small }: { release: Release | undefined; small?: boolean }) {
  if (!release) return null;
  return (
    <span className={`badge ${CLASS[release]}${small ? " badge-small" : ""}`} data-release={release} title={`Release: ${release}`}>
      {release === "released" ? "✓ " : ""}
      {release}
    </span>
  );
}
