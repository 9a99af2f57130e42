import { useMemo } from "react";
import type { TaskStatus } from "../api/types";
import { layoutDag, type GraphTask } from "../lib/graph";

export interface DagTask extends GraphTask {
  status?: TaskStatus;
  executor?: string;
  attempt?: number;
  instrument?: string | null;
}

const NODE_W = 168;
const NODE_H = 56;

function clip(text: string, max: number) {
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

/** The workflow's tasks as a left-to-right graph; nodes coloured by state, selectable by mouse and keyboard. */
export function Dag({
  tasks,
  selected,
  onSelect,
  label = "Task graph",
  fit = false,
  vertical = false,
}: {
  tasks: DagTask[];
  selected?: string | null;
  onSelect?: (name: string) => void;
  label?: string;
  /** scale down to the width available instead of scrolling */
  fit?: boolean;
  /** layers top to bottom (for a narrow column) */
  vertical?: boolean;
}) {
  const shape = tasks.map((t) => `${t.name}<${(t.depends_on ?? []).join(",")}`).join("|");
  const layout = useMemo(
    () => layoutDag(tasks, { nodeWidth: NODE_W, nodeHeight: NODE_H, gapX: vertical ? 30 : 52, gapY: 14, direction: vertical ? "TB" : "LR" }),
    [shape, vertical],
  );
  const byName = new Map(tasks.map((t) => [t.name, t]));
  if (!tasks.length) return <p className="muted">No tasks yet.</p>;
  return (
    <div className="dag-scroll">
      <svg
        className="dag"
        role="group"
        aria-label={label}
        width={fit ? "100%" : layout.width}
        height={fit ? undefined : layout.height}
        style={fit ? { maxWidth: layout.width, height: "auto" } : undefined}
        viewBox={`0 0 ${layout.width} ${layout.height}`}
      >
        <defs>
          <marker id="dag-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">
            <path d="M 0 0 L 10 5 L 0 10 z" className="dag-arrowhead" />
          </marker>
        </defs>
        {layout.edges.map((e) => {
          const done = byName.get(e.from)?.status === "succeeded";
          return (
            <path
              key={`${e.from}->${e.to}`}
              className={`dag-edge${done ? " dag-edge-done" : ""}${e.back ? " dag-edge-back" : ""}`}
              d={e.d}
              markerEnd="url(#dag-arrow)"
            />
          );
        })}
        {[...layout.nodes.values()].map((n) => {
          const t = byName.get(n.name)!;
          const status = t.status ?? "draft";
          const isSelected = selected === n.name;
          const awaiting = t.executor === "manual" && status === "running" ? "· awaiting operator" : null;
          const detail = [t.executor, t.instrument ? `on ${t.instrument}` : null, awaiting].filter(Boolean).join(" ");
          const tries = t.attempt && t.attempt > 1 ? ` · attempt ${t.attempt}` : "";
          return (
            <g
              key={n.name}
              className={`dag-node status-${status}${isSelected ? " selected" : ""}`}
              data-task={n.name}
              data-status={status}
              transform={`translate(${n.x},${n.y})`}
              role={onSelect ? "button" : undefined}
              tabIndex={onSelect ? 0 : undefined}
              aria-pressed={onSelect ? isSelected : undefined}
              aria-label={`task ${n.name}: ${status}${tries}${detail ? ` (${detail})` : ""}`}
              onClick={onSelect ? () => onSelect(n.name) : undefined}
              onKeyDown={
                onSelect
                  ? (ev) => {
                      if (ev.key === "Enter" || ev.key === " ") {
                        ev.preventDefault();
                        onSelect(n.name);
                      }
                    }
                  : undefined
              }
            >
              <title>{`${n.name}: ${status}${tries}${detail ? ` — ${detail}` : ""}`}</title>
              <rect className="dag-box" width={NODE_W} height={NODE_H} rx={8} ry={8} />
              <rect className="dag-stripe" width={6} height={NODE_H} rx={3} ry={3} />
              <text className="dag-name" x={14} y={18}>
                {clip(n.name, 20)}
              </text>
              <text className="dag-status" x={14} y={34}>
                {status}
                {tries}
              </text>
              <text className="dag-detail" x={14} y={49}>
                {clip(detail, 26)}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
