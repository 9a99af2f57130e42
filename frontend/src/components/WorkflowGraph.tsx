// The workflow page's graph, for 1 to 10,000 tasks: the layered layout of
// lib/graph.ts with fan-outs collapsible into group nodes (lib/groups.ts), zoom
// (wheel, buttons, keys), pan (drag, arrow keys), fit-to-view, a minimap and
// find-a-task. Drawing stays cheap at any size: zoomed in, only the boxes in view
// are elements (each a focusable button with its name and state); zoomed out
// (or with many in view) every box is one sub-path of a single <path> per state,
// and a click is answered by a hit test.
import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { TASK_STATUSES, type TaskStatus } from "../api/types";
import { layoutDag, type GraphTask, type Layout } from "../lib/graph";
import { collapse, countByState, findFanouts, groupStatus, isGroupId, type FanoutGroup } from "../lib/groups";
import { centreOn, fitView, intersects, visibleWorld, zoomAt, type View } from "../lib/viewport";

export interface GraphNodeTask extends GraphTask {
  status: TaskStatus;
  executor?: string;
  instrument?: string | null;
  attempt?: number;
  /** a short extra line, e.g. "2nd in line on balance-01" */
  note?: string | null;
}

const NODE_W = 168;
const NODE_H = 56;
/** fan-outs at least this big are found; at least COLLAPSE_AT start collapsed */
const GROUP_MIN = 5;
const COLLAPSE_AT = 10;
/** boxes drawn as elements while at most this many are in view and they are legible */
const DETAIL_CAP = 300;
const DETAIL_MIN_K = 0.3;
const MAX_H = 560;
/** more edges than this are not drawn in the overview */
const EDGE_CAP = 4000;
const MIN_H = 200;
const MINIMAP_W = 180;
const MINIMAP_H = 110;
/** a group node's state: the most pressing of its members' */
const GROUP_PRIORITY: readonly TaskStatus[] = ["failed", "running", "queued", "waiting", "pending", "cancelled", "skipped", "succeeded"];

function boxesPath(nodes: Iterable<{ x: number; y: number }>, minSize: number): string {
  const w = Math.max(NODE_W, minSize);
  const h = Math.max(NODE_H, minSize);
  const parts: string[] = [];
  for (const n of nodes) parts.push(`M${n.x | 0} ${n.y | 0}h${w | 0}v${h | 0}h${-w | 0}z`);
  return parts.join("");
}

/** One <path> per state: every box of a big graph in a handful of elements. */
function statePaths(layout: Layout, statusOf: (node: string) => string, minSize: number): [string, string][] {
  const by = new Map<string, { x: number; y: number }[]>();
  for (const n of layout.nodes.values()) {
    const s = statusOf(n.name);
    (by.get(s) ?? by.set(s, []).get(s)!).push(n);
  }
  return [...by].map(([s, ns]) => [s, boxesPath(ns, minSize)]);
}

function Minimap({ layout, paths, view, size, onCentre }: { layout: Layout; paths: [string, string][]; view: View; size: { w: number; h: number }; onCentre: (wx: number, wy: number) => void }) {
  const ref = useRef<SVGSVGElement>(null);
  const seen = visibleWorld(view, size.w, size.h);
  const toWorld = (ev: React.PointerEvent) => {
    const svg = ref.current;
    const m = svg?.getScreenCTM?.();
    if (!svg || !m) return;
    const p = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(m.inverse());
    onCentre(p.x, p.y);
  };
  const stroke = Math.max(layout.width / MINIMAP_W, layout.height / MINIMAP_H) * 1.5;
  return (
    <svg
      ref={ref}
      className="minimap"
      aria-hidden="true"
      width={MINIMAP_W}
      height={MINIMAP_H}
      viewBox={`0 0 ${layout.width} ${layout.height}`}
      preserveAspectRatio="xMidYMid meet"
      onPointerDown={(ev) => {
        ev.stopPropagation();
        (ev.currentTarget as Element).setPointerCapture?.(ev.pointerId);
        toWorld(ev);
      }}
      onPointerMove={(ev) => ev.buttons & 1 && toWorld(ev)}
    >
      <rect className="minimap-bg" x={0} y={0} width={layout.width} height={layout.height} />
      {paths.map(([s, d]) => (
        <path key={s} className={`minimap-boxes status-${s}`} d={d} />
      ))}
      <rect className="minimap-view" x={seen.x} y={seen.y} width={seen.w} height={seen.h} strokeWidth={stroke} />
    </svg>
  );
}

interface NodeProps {
  name: string;
  x: number;
  y: number;
  task?: GraphNodeTask;
  group?: FanoutGroup;
  counts?: [TaskStatus, number][];
  status: string;
  selected: boolean;
  onPick: (name: string) => void;
}

const GraphNode = memo(function GraphNode({ name, x, y, task, group, counts, status, selected, onPick }: NodeProps) {
  let label: string;
  let title: string;
  let line2: string;
  let line3: string;
  if (group && counts) {
    const summary = counts.map(([s, n]) => `${n} ${s}`).join(", ");
    label = `fan-out ${group.label}: ${group.members.length} tasks, ${summary}`;
    title = group.label;
    line2 = `${group.members.length} tasks`;
    line3 = summary;
  } else {
    const t = task!;
    const awaiting = t.executor === "manual" && status === "running" ? "· awaiting operator" : null;
    const detail = [t.executor, t.instrument ? `on ${t.instrument}` : null, awaiting].filter(Boolean).join(" ");
    const tries = t.attempt && t.attempt > 1 ? ` · attempt ${t.attempt}` : "";
    title = name;
    line2 = `${status}${tries}`;
    line3 = t.note ?? detail;
    // the visible lines in order, then what the box has no room for (axe: label-content-name-mismatch)
    label = `task ${name}: ${line2}${line3 ? `, ${line3}` : ""}${t.note && detail ? `; ${detail}` : ""}`;
  }
  const total = group?.members.length ?? 0;
  let at = 14;
  return (
    <g
      className={`dag-node status-${status}${selected ? " selected" : ""}${group ? " dag-group" : ""}`}
      data-task={group ? undefined : name}
      data-group={group ? group.id : undefined}
      data-status={status}
      transform={`translate(${x},${y})`}
      role="button"
      tabIndex={0}
      aria-pressed={selected}
      aria-label={label}
      onClick={(ev) => {
        ev.stopPropagation();
        onPick(name);
      }}
      onKeyDown={(ev) => {
        if (ev.key === "Enter" || ev.key === " ") {
          ev.preventDefault();
          ev.stopPropagation();
          onPick(name);
        }
      }}
    >
      {group && <rect className="dag-box dag-box-stack" x={5} y={-5} width={NODE_W} height={NODE_H} rx={8} ry={8} />}
      <rect className="dag-box" width={NODE_W} height={NODE_H} rx={8} ry={8} />
      <rect className="dag-stripe" width={6} height={NODE_H} rx={3} ry={3} />
      {/* whole texts, clipped by the box (the aria-label holds them in the same order) */}
      <g clipPath="url(#wf-node-clip)">
      <text className="dag-name" x={14} y={18}>
        {title}{" "}
      </text>
      <text className="dag-status" x={14} y={34}>
        {line2}{" "}
      </text>
      {group && counts ? (
        <g className="dag-counts" transform="translate(14 42)">
          {counts.map(([s, n]) => {
            const w = Math.max(2, ((NODE_W - 24) * n) / Math.max(1, total));
            const el = <rect key={s} className={`count status-${s}`} x={at - 14} y={0} width={w} height={8} rx={1} />;
            at += w;
            return el;
          })}
        </g>
      ) : (
        <text className="dag-detail" x={14} y={49}>
          {line3}
        </text>
      )}
      </g>
    </g>
  );
});

export function WorkflowGraph({
  tasks,
  selected,
  onSelect,
  label = "Task graph",
}: {
  tasks: GraphNodeTask[];
  selected?: string | null;
  onSelect: (name: string | null) => void;
  label?: string;
}) {
  // the structure of a submitted workflow never changes; statuses do
  const structure = useMemo(() => tasks.map((t) => `${t.name}<${(t.depends_on ?? []).join(",")}`).join("|"), [tasks.length, tasks[0]?.name, tasks[tasks.length - 1]?.name]); // eslint-disable-line react-hooks/exhaustive-deps
  const groups = useMemo(() => findFanouts(tasks, GROUP_MIN), [structure]); // eslint-disable-line react-hooks/exhaustive-deps
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(() => new Set(groups.filter((g) => g.members.length >= COLLAPSE_AT).map((g) => g.id)));
  const [groupOpen, setGroupOpen] = useState<string | null>(null);
  const box = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(900);
  const narrow = width < 640;

  const graph = useMemo(() => collapse(tasks, groups, collapsed), [structure, groups, collapsed]); // eslint-disable-line react-hooks/exhaustive-deps
  const timing = useRef({ layoutMs: 0 });
  const layout = useMemo(() => {
    const t0 = performance.now();
    const l = layoutDag(graph.nodes, { nodeWidth: NODE_W, nodeHeight: NODE_H, gapX: narrow ? 30 : 52, gapY: 14, direction: narrow ? "TB" : "LR" });
    timing.current.layoutMs = performance.now() - t0;
    return l;
  }, [graph, narrow]);

  const byName = useMemo(() => new Map(tasks.map((t) => [t.name, t])), [tasks]);
  const groupCounts = useMemo(() => {
    const m = new Map<string, [TaskStatus, number][]>();
    for (const g of graph.groups.values()) m.set(g.id, countByState(g.members, (n) => byName.get(n)?.status, TASK_STATUSES));
    return m;
  }, [graph, byName]);
  const statusOf = useCallback(
    (node: string): string => (isGroupId(node) ? groupStatus(groupCounts.get(node) ?? [], GROUP_PRIORITY) ?? "pending" : byName.get(node)?.status ?? "draft"),
    [byName, groupCounts],
  );

  // the box: its width from the page, its height from the graph (up to MAX_H)
  const height = Math.round(Math.min(MAX_H, Math.max(MIN_H, layout.height * Math.min(1, (width - 24) / layout.width) + 24)));
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = () => el.clientWidth && setWidth(el.clientWidth);
    measure();
    if (typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const [view, setView] = useState<View>(() => fitView(layout.width, layout.height, width, height));
  const moved = useRef(false); // the user zoomed or panned: a resize or new layout keeps their view
  const fit = useCallback(() => {
    moved.current = false;
    setView(fitView(layout.width, layout.height, width, height));
  }, [layout, width, height]);
  // a new layout (a fan-out expanded or collapsed) is shown whole; a resize keeps the user's view
  useLayoutEffect(() => {
    moved.current = false;
    setView(fitView(layout.width, layout.height, width, height));
  }, [layout]); // eslint-disable-line react-hooks/exhaustive-deps
  useLayoutEffect(() => {
    if (!moved.current) setView(fitView(layout.width, layout.height, width, height));
  }, [width, height]); // eslint-disable-line react-hooks/exhaustive-deps

  // centre on a task: after find, after a selection from elsewhere (the URL, the timeline)
  const [focusOn, setFocusOn] = useState<string | null>(null);
  const lastSelected = useRef<string | null | undefined>(undefined);
  useEffect(() => {
    if (selected === lastSelected.current) return;
    lastSelected.current = selected;
    if (!selected) return;
    const node = graph.nodeOf.get(selected);
    if (node && isGroupId(node)) {
      setCollapsed((c) => new Set([...c].filter((id) => id !== node)));
      setFocusOn(selected);
    } else if (node) {
      const n = layout.nodes.get(node);
      if (n && !intersects(visibleWorld(view, width, height), { x: n.x, y: n.y, w: NODE_W, h: NODE_H })) setFocusOn(selected);
    }
  }, [selected, graph, layout, view, width, height]);
  useLayoutEffect(() => {
    if (!focusOn) return;
    const n = layout.nodes.get(focusOn);
    if (!n) return;
    moved.current = true;
    setView((v) => centreOn(n.x + NODE_W / 2, n.y + NODE_H / 2, width, height, Math.max(v.k, 0.9)));
    setFocusOn(null);
  }, [focusOn, layout, width, height]);

  // wheel zoom needs a non-passive listener (the page must not scroll meanwhile)
  const viewRef = useRef(view);
  viewRef.current = view;
  useEffect(() => {
    const el = box.current?.querySelector("svg.dag-canvas");
    if (!el) return;
    const onWheel = (ev: Event) => {
      const e = ev as WheelEvent;
      e.preventDefault();
      const r = (el as Element).getBoundingClientRect();
      moved.current = true;
      setView((v) => zoomAt(v, Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top));
    };
    el.addEventListener("wheel", onWheel, { passive: false });
    return () => el.removeEventListener("wheel", onWheel);
  }, []);

  const zoomBy = (factor: number) => {
    moved.current = true;
    setView((v) => zoomAt(v, factor, width / 2, height / 2));
  };
  const panBy = (dx: number, dy: number) => {
    moved.current = true;
    setView((v) => ({ ...v, x: v.x + dx, y: v.y + dy }));
  };

  // drag to pan; a press that does not move is a click
  const drag = useRef<{ x: number; y: number; vx: number; vy: number; id: number; dragging: boolean } | null>(null);
  const suppressClick = useRef(false);
  const onPointerDown = (ev: React.PointerEvent) => {
    if (ev.button !== 0) return;
    drag.current = { x: ev.clientX, y: ev.clientY, vx: view.x, vy: view.y, id: ev.pointerId, dragging: false };
    suppressClick.current = false;
  };
  const onPointerMove = (ev: React.PointerEvent) => {
    const d = drag.current;
    if (!d || !(ev.buttons & 1)) return;
    const dx = ev.clientX - d.x;
    const dy = ev.clientY - d.y;
    if (!d.dragging && Math.hypot(dx, dy) < 4) return;
    if (!d.dragging) {
      d.dragging = true;
      (ev.currentTarget as Element).setPointerCapture?.(d.id);
    }
    moved.current = true;
    setView((v) => ({ ...v, x: d.vx + dx, y: d.vy + dy }));
  };
  const onPointerUp = () => {
    if (drag.current?.dragging) suppressClick.current = true;
    drag.current = null;
  };

  const pick = useCallback(
    (name: string) => {
      if (suppressClick.current) {
        suppressClick.current = false;
        return;
      }
      if (isGroupId(name)) {
        setGroupOpen((g) => (g === name ? null : name));
        return;
      }
      onSelect(selected === name ? null : name);
    },
    [onSelect, selected],
  );

  const world = visibleWorld(view, width, height);
  const inView = useMemo(() => {
    const out: { name: string; x: number; y: number }[] = [];
    for (const n of layout.nodes.values()) if (intersects(world, { x: n.x, y: n.y, w: NODE_W, h: NODE_H })) out.push(n);
    return out;
  }, [layout, world.x, world.y, world.w, world.h]); // eslint-disable-line react-hooks/exhaustive-deps
  const detail = view.k >= DETAIL_MIN_K && inView.length <= DETAIL_CAP;

  // overview: one path per state (boxes at least 3 px on screen), all edges in two paths
  const minWorld = 3 / view.k;
  const overviewPaths = useMemo(() => (detail ? [] : statePaths(layout, statusOf, minWorld)), [detail, layout, statusOf, Math.round(Math.log2(minWorld) * 4)]); // eslint-disable-line react-hooks/exhaustive-deps
  const minimapK = Math.min(MINIMAP_W / layout.width, MINIMAP_H / layout.height);
  const minimapPaths = useMemo(() => statePaths(layout, statusOf, 2 / minimapK), [layout, statusOf, minimapK]);
  // each edge's bounding box, so that zoomed in only the edges in view are elements
  const edgeBoxes = useMemo(
    () =>
      layout.edges.map((e) => {
        let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
        for (const [x, y] of e.points) [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
        return { x: x0, y: y0 - 40, w: x1 - x0 + 1, h: y1 - y0 + 80 };
      }),
    [layout],
  );
  const edgesInView = detail ? layout.edges.filter((_, i) => intersects(world, edgeBoxes[i])) : [];
  // zoomed out on thousands of edges they are a grey smear that costs a second to paint: not drawn
  const drawEdges = layout.edges.length <= EDGE_CAP;
  const edgePaths = useMemo(() => {
    if (!drawEdges) return { done: "", todo: "", back: "" };
    const done: string[] = [];
    const todo: string[] = [];
    const back: string[] = [];
    for (const e of layout.edges) (e.back ? back : statusOf(e.from) === "succeeded" ? done : todo).push(e.d);
    return { done: done.join(" "), todo: todo.join(" "), back: back.join(" ") };
  }, [layout, statusOf, drawEdges]);

  const onCanvasClick = (ev: React.MouseEvent<SVGSVGElement>) => {
    if (suppressClick.current) {
      suppressClick.current = false;
      return;
    }
    if (detail) return; // the boxes answer their own clicks
    const r = ev.currentTarget.getBoundingClientRect();
    const wx = (ev.clientX - r.left - view.x) / view.k;
    const wy = (ev.clientY - r.top - view.y) / view.k;
    // boxes drawn at their minimum size overlap: the one whose centre is nearest wins
    const slack = minWorld / 2;
    let best: string | null = null;
    let bestD = Infinity;
    for (const n of layout.nodes.values())
      if (wx >= n.x - slack && wx <= n.x + Math.max(NODE_W, minWorld) + slack && wy >= n.y - slack && wy <= n.y + Math.max(NODE_H, minWorld) + slack) {
        const d = Math.hypot(wx - n.x - NODE_W / 2, wy - n.y - NODE_H / 2);
        if (d < bestD) [best, bestD] = [n.name, d];
      }
    if (best) pick(best);
  };

  const onKeyDown = (ev: React.KeyboardEvent) => {
    const step = 80;
    const keys: Record<string, () => void> = {
      ArrowLeft: () => panBy(step, 0),
      ArrowRight: () => panBy(-step, 0),
      ArrowUp: () => panBy(0, step),
      ArrowDown: () => panBy(0, -step),
      "+": () => zoomBy(1.25),
      "=": () => zoomBy(1.25),
      "-": () => zoomBy(0.8),
      "0": fit,
    };
    const run = keys[ev.key];
    if (run && !(ev.target instanceof HTMLInputElement)) {
      ev.preventDefault();
      run();
    }
  };

  // find a task by name
  const [query, setQuery] = useState("");
  const matches = useMemo(() => {
    const q = query.trim().toLowerCase();
    if (!q) return [];
    const out: string[] = [];
    for (const t of tasks) if (t.name.toLowerCase().includes(q) && out.push(t.name) >= 8) break;
    return out;
  }, [query, tasks]);
  const find = (name: string) => {
    const node = graph.nodeOf.get(name);
    if (node && isGroupId(node)) setCollapsed((c) => new Set([...c].filter((id) => id !== node)));
    setFocusOn(name);
    lastSelected.current = name;
    onSelect(name);
    setQuery("");
  };

  // first drawing of a layout: a mark the browser tests read
  useEffect(() => {
    requestAnimationFrame(() => {
      performance.mark("laf:graph-drawn", { detail: { nodes: layout.nodes.size, tasks: tasks.length } });
      (window as unknown as { __lafGraph?: object }).__lafGraph = { nodes: layout.nodes.size, tasks: tasks.length, layoutMs: timing.current.layoutMs, at: performance.now() };
      box.current?.setAttribute("data-drawn", String(layout.nodes.size));
    });
  }, [layout, tasks.length]);

  const open = groupOpen ? groups.find((g) => g.id === groupOpen) : undefined;
  const openCounts = open ? countByState(open.members, (n) => byName.get(n)?.status, TASK_STATUSES) : [];
  const expandedGroups = groups.filter((g) => !collapsed.has(g.id));
  const toggleGroup = (id: string, collapse: boolean) =>
    setCollapsed((c) => {
      const next = new Set(c);
      if (collapse) next.add(id);
      else next.delete(id);
      return next;
    });

  if (!tasks.length) return <p className="muted">No tasks yet.</p>;
  const selectedNode = selected ? graph.nodeOf.get(selected) : undefined;
  return (
    <div className="graph" data-graph data-nodes={layout.nodes.size} data-mode={detail ? "detail" : "overview"} data-zoom={view.k.toFixed(4)}>
      <div className="graph-tools" role="toolbar" aria-label="Graph view">
        <button type="button" onClick={() => zoomBy(1.25)} aria-label="Zoom in">
          +
        </button>
        <button type="button" onClick={() => zoomBy(0.8)} aria-label="Zoom out">
          −
        </button>
        <button type="button" onClick={fit}>
          Fit
        </button>
        {groups.length > 0 && (
          <>
            <button type="button" onClick={() => setCollapsed(new Set(groups.map((g) => g.id)))} disabled={collapsed.size === groups.length}>
              Collapse fan-outs
            </button>
            <button type="button" onClick={() => setCollapsed(new Set())} disabled={collapsed.size === 0}>
              Expand all
            </button>
          </>
        )}
        <div className="find">
          <label htmlFor="graph-find" className="sr-only">
            Find a task
          </label>
          <input
            id="graph-find"
            type="search"
            placeholder="Find a task…"
            value={query}
            autoComplete="off"
            onChange={(e) => setQuery(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && matches.length) {
                e.preventDefault();
                find(matches[0]);
              }
            }}
            aria-describedby="graph-find-hint"
          />
          <span id="graph-find-hint" className="sr-only">
            Enter selects the first match
          </span>
          {matches.length > 0 && (
            <ul className="find-results" aria-label="Matching tasks">
              {matches.map((m) => (
                <li key={m}>
                  <button type="button" className="link" onClick={() => find(m)}>
                    {m}
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
        <span className="muted small graph-count">
          {tasks.length.toLocaleString()} task{tasks.length === 1 ? "" : "s"}
          {graph.groups.size ? ` · ${graph.groups.size} fan-out${graph.groups.size === 1 ? "" : "s"} collapsed` : ""}
        </span>
      </div>
      {open && (
        <div className="group-panel" data-group-panel={open.id} role="region" aria-label={`Fan-out ${open.label}`}>
          <strong>
            {open.label} · {open.members.length} tasks
          </strong>
          <ul className="counts" aria-label="By state">
            {openCounts.map(([s, n]) => (
              <li key={s}>
                <span className={`badge badge-small status-${s}`}>{s}</span> {n}
              </li>
            ))}
          </ul>
          {collapsed.has(open.id) ? (
            <button type="button" onClick={() => (toggleGroup(open.id, false), setGroupOpen(null))}>
              Expand
            </button>
          ) : (
            <button type="button" onClick={() => (toggleGroup(open.id, true), setGroupOpen(null))}>
              Collapse
            </button>
          )}
          <button type="button" aria-label="Close fan-out details" onClick={() => setGroupOpen(null)}>
            ×
          </button>
        </div>
      )}
      {expandedGroups.length > 0 && (
        <details className="expanded-groups">
          <summary>Expanded fan-outs ({expandedGroups.length})</summary>
          <ul>
            {expandedGroups.map((g) => (
              <li key={g.id}>
                {g.label} ×{g.members.length}{" "}
                <button type="button" className="link" onClick={() => toggleGroup(g.id, true)}>
                  Collapse
                </button>
              </li>
            ))}
          </ul>
        </details>
      )}
      <div className="graph-box" ref={box} style={{ height }} tabIndex={0} role="group" aria-label={`${label}: drag or arrow keys to move, + and − to zoom, 0 to fit`} onKeyDown={onKeyDown}>
        <svg
          className="dag dag-canvas"
          width="100%"
          height={height}
          onPointerDown={onPointerDown}
          onPointerMove={onPointerMove}
          onPointerUp={onPointerUp}
          onPointerCancel={onPointerUp}
          onClick={onCanvasClick}
        >
          <defs>
            <clipPath id="wf-node-clip">
              <rect x={8} y={0} width={NODE_W - 14} height={NODE_H} />
            </clipPath>
            <marker id="wf-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">
              <path d="M 0 0 L 10 5 L 0 10 z" className="dag-arrowhead" />
            </marker>
          </defs>
          <g transform={`translate(${view.x} ${view.y}) scale(${view.k})`}>
            {detail ? (
              edgesInView.map((e) => (
                <path
                  key={`${e.from}->${e.to}`}
                  className={`dag-edge${statusOf(e.from) === "succeeded" ? " dag-edge-done" : ""}${e.back ? " dag-edge-back" : ""}`}
                  d={e.d}
                  markerEnd="url(#wf-arrow)"
                  vectorEffect="non-scaling-stroke"
                />
              ))
            ) : (
              <>
                <path className="dag-edge" d={edgePaths.todo} vectorEffect="non-scaling-stroke" />
                <path className="dag-edge dag-edge-done" d={edgePaths.done} vectorEffect="non-scaling-stroke" />
                {edgePaths.back && <path className="dag-edge dag-edge-back" d={edgePaths.back} vectorEffect="non-scaling-stroke" />}
              </>
            )}
            {detail
              ? inView.map((n) => {
                  const group = graph.groups.get(n.name);
                  return (
                    <GraphNode
                      key={n.name}
                      name={n.name}
                      x={n.x}
                      y={n.y}
                      task={group ? undefined : byName.get(n.name)}
                      group={group}
                      counts={group ? groupCounts.get(n.name) : undefined}
                      status={statusOf(n.name)}
                      selected={group ? groupOpen === n.name : selected === n.name}
                      onPick={pick}
                    />
                  );
                })
              : overviewPaths.map(([s, d]) => <path key={s} className={`overview-boxes status-${s}`} d={d} />)}
            {!detail && selectedNode && layout.nodes.get(selectedNode) && (
              <rect
                className="overview-selected"
                x={layout.nodes.get(selectedNode)!.x - minWorld}
                y={layout.nodes.get(selectedNode)!.y - minWorld}
                width={Math.max(NODE_W, minWorld) + 2 * minWorld}
                height={Math.max(NODE_H, minWorld) + 2 * minWorld}
                vectorEffect="non-scaling-stroke"
              />
            )}
          </g>
        </svg>
        {!detail && (
          <p className="graph-hint" aria-live="polite">
            {inView.length.toLocaleString()} boxes in view{drawEdges ? "" : ` (their ${layout.edges.length.toLocaleString()} edges are drawn when zoomed in)`}: zoom in to read them, click one to open it, or find a task by name.
          </p>
        )}
        {(layout.width * view.k > width || layout.height * view.k > height) && (
          <Minimap
            layout={layout}
            paths={minimapPaths}
            view={view}
            size={{ w: width, h: height }}
            onCentre={(wx, wy) => {
              moved.current = true;
              setView((v) => centreOn(wx, wy, width, height, v.k));
            }}
          />
        )}
      </div>
    </div>
  );
}

