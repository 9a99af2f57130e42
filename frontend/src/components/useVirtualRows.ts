import { useCallback, useLayoutEffect, useRef, useState } from "react";
import { visibleRows } from "../lib/viewport";

/** Every row up to this many is rendered (small lists stay whole for find-in-page). */
const WHOLE = 200;

/** The rows of a scrolling list of fixed-height rows to render now: [first, last). */
export function useVirtualRows(count: number, rowHeight: number) {
  const ref = useRef<HTMLDivElement>(null);
  const [scroll, setScroll] = useState({ top: 0, height: 600 });
  const frame = useRef(0);
  const onScroll = useCallback(() => {
    if (frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      const el = ref.current;
      if (el) setScroll({ top: el.scrollTop, height: el.clientHeight || 600 });
    });
  }, []);
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && el.clientHeight) setScroll({ top: el.scrollTop, height: el.clientHeight });
    return () => cancelAnimationFrame(frame.current);
  }, [count]);
  // the header row sits on top of the rows: one row's worth of slack
  const range: [number, number] = count <= WHOLE ? [0, count] : visibleRows(count, rowHeight, Math.max(0, scroll.top - rowHeight), scroll.height, 15);
  return { ref, onScroll, range };
}
