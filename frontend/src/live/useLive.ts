import { useEffect, useRef, useState } from "react";
import type { LiveEvent } from "../api/types";
import { LiveFeed, type FeedMode } from "./feed";

/** Subscribe a view to /api/events (optionally one workflow's), with polling as the fallback. */
export function useLiveFeed(
  onEvent: (event: LiveEvent) => void,
  resync: () => void | Promise<void>,
  workflowId?: string,
  pollMs = 2000,
): FeedMode {
  const [mode, setMode] = useState<FeedMode>("connecting");
  const handlers = useRef({ onEvent, resync });
  handlers.current = { onEvent, resync };
  useEffect(() => {
    const url = workflowId ? `/api/events?workflow_id=${encodeURIComponent(workflowId)}` : "/api/events";
    const feed = new LiveFeed({
      url,
      pollMs,
      onEvent: (e) => handlers.current.onEvent(e),
      resync: () => handlers.current.resync(),
      onMode: setMode,
    });
    feed.start();
    return () => feed.stop();
  }, [workflowId, pollMs]);
  return mode;
}

/** A function that runs `fn` at most once per `ms` (trailing), for re-reads after bursts of events. */
export function useThrottled(fn: () => void, ms: number): () => void {
  const latest = useRef(fn);
  latest.current = fn;
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => {
    if (timer.current) clearTimeout(timer.current);
  }, []);
  const ref = useRef(() => {
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      latest.current();
    }, ms);
  });
  return ref.current;
}
