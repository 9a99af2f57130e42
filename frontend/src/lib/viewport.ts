// The arithmetic of a zoomable, pannable view (screen = world × k + (x, y)) and of
// virtualised lists, kept pure so Vitest checks it without a browser.

export interface View {
  k: number;
  x: number;
  y: number;
}
export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export const MIN_ZOOM = 0.0005;
export const MAX_ZOOM = 2.5;
const clampK = (k: number) => Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, k));

/** The view that shows all of a `width` × `height` world in a `w` × `h` box, centred, never above `maxK`. */
export function fitView(width: number, height: number, w: number, h: number, pad = 12, maxK = 1): View {
  const k = clampK(Math.min(maxK, (w - 2 * pad) / Math.max(1, width), (h - 2 * pad) / Math.max(1, height)));
  return { k, x: (w - width * k) / 2, y: (h - height * k) / 2 };
}

/** Zoom by `factor` keeping the world point under (sx, sy) where it is on screen. */
export function zoomAt(view: View, factor: number, sx: number, sy: number): View {
  const k = clampK(view.k * factor);
  const f = k / view.k;
  return { k, x: sx - (sx - view.x) * f, y: sy - (sy - view.y) * f };
}

/** The view with world point (wx, wy) at the centre of a `w` × `h` box, at zoom k. */
export function centreOn(wx: number, wy: number, w: number, h: number, k: number): View {
  const kk = clampK(k);
  return { k: kk, x: w / 2 - wx * kk, y: h / 2 - wy * kk };
}

/** The part of the world a `w` × `h` box shows. */
export function visibleWorld(view: View, w: number, h: number): Rect {
  return { x: -view.x / view.k, y: -view.y / view.k, w: w / view.k, h: h / view.k };
}

export const intersects = (a: Rect, b: Rect) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/** Rows [first, last) of a list of `count` fixed-height rows to render for a scroll position, with `overscan` extra each side. */
export function visibleRows(count: number, rowHeight: number, scrollTop: number, viewport: number, overscan = 10): [number, number] {
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(count, Math.ceil((scrollTop + viewport) / rowHeight) + overscan);
  return [first, Math.max(first, last)];
}
