import type { FeedMode } from "../live/feed";

const TEXT: Record<FeedMode, string> = {
  connecting: "connecting…",
  live: "live",
  polling: "polling (live stream unavailable)",
  stopped: "stopped",
};

export function LiveIndicator({ mode }: { mode: FeedMode }) {
  return (
    <span className={`live live-${mode}`} role="status" aria-live="polite" data-live={mode}>
      <i aria-hidden="true" /> {TEXT[mode]}
    </span>
  );
}
