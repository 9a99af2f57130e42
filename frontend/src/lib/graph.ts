// Graph checks that JSON Schema cannot express (duplicate names, unknown
// dependencies, cycles) and a layered left-to-right layout for drawing a DAG.

export interface GraphTask {
  name: string;
  depends_on?: string[] | null;
}

export interface GraphProblem {
  /** index of the task the problem belongs to */
  index: number;
  task: string;
  field: "name" | "depends_on";
  kind: "duplicate" | "repeated-dependency" | "unknown-dependency" | "self-dependency" | "cycle";
  message: string;
}

/** Every graph problem of a list of tasks, each pinned to the task and field it is about. */
export function graphProblems(tasks: GraphTask[]): GraphProblem[] {
  const problems: GraphProblem[] = [];
  const firstIndex = new Map<string, number>();
  tasks.forEach((task, index) => {
    if (!task.name) return;
    if (firstIndex.has(task.name)) {
      problems.push({
        index,
        task: task.name,
        field: "name",
        kind: "duplicate",
        message: `duplicate task name '${task.name}' (also task ${firstIndex.get(task.name)! + 1})`,
      });
    } else firstIndex.set(task.name, index);
  });
  tasks.forEach((task, index) => {
    const listed = new Set<string>();
    for (const dep of task.depends_on ?? []) {
      if (listed.has(dep)) {
        problems.push({ index, task: task.name, field: "depends_on", kind: "repeated-dependency", message: `task '${task.name}' lists '${dep}' twice` });
        continue;
      }
      listed.add(dep);
      // a second task of the same name "depending on itself" depends on its namesake: the duplicate
      // name (reported above) is the problem to show, not a false self-dependency
      if (dep === task.name && firstIndex.get(task.name) !== index) continue;
      if (dep === task.name)
        problems.push({ index, task: task.name, field: "depends_on", kind: "self-dependency", message: `task '${task.name}' depends on itself` });
      else if (!firstIndex.has(dep))
        problems.push({ index, task: task.name, field: "depends_on", kind: "unknown-dependency", message: `task '${task.name}' depends on unknown task '${dep}'` });
    }
  });
  for (const cycle of findCycles(tasks)) {
    const text = `${[...cycle, cycle[0]].join(" → ")} (each task depends on the next)`;
    for (const name of cycle) {
      const index = firstIndex.get(name)!;
      problems.push({ index, task: name, field: "depends_on", kind: "cycle", message: `cycle: ${text}` });
    }
  }
  return problems;
}

/** Cycles of the dependency graph (each once, as the list of its task names in dependency order). */
export function findCycles(tasks: GraphTask[]): string[][] {
  const deps = new Map<string, string[]>();
  for (const t of tasks) if (t.name && !deps.has(t.name)) deps.set(t.name, (t.depends_on ?? []).filter((d) => d !== t.name));
  const state = new Map<string, 1 | 2>(); // 1 on stack, 2 done
  const stack: string[] = [];
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    state.set(name, 1);
    stack.push(name);
    for (const dep of deps.get(name) ?? []) {
      if (!deps.has(dep)) continue;
      if (state.get(dep) === 1) {
        // stack[i] depends on stack[i+1], and `name` (the last) on `dep`: a cycle in "depends on" order
        const cycle = stack.slice(stack.indexOf(dep));
        const key = [...cycle].sort().join("\u0000");
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push(cycle);
        }
      } else if (!state.has(dep)) visit(dep);
    }
    stack.pop();
    state.set(name, 2);
  };
  for (const name of deps.keys()) if (!state.has(name)) visit(name);
  return cycles;
}

export interface LayoutNode {
  name: string;
  layer: number;
  order: number;
  x: number;
  y: number;
}
export interface LayoutEdge {
  from: string;
  to: string;
  /** where the edge passes: the source's right side, through the layers it spans, the target's left side */
  points: [number, number][];
  /** an SVG path through the points */
  d: string;
  /** an edge that closes a cycle (drafts only): drawn against the flow */
  back?: boolean;
}
export interface Layout {
  nodes: Map<string, LayoutNode>;
  edges: LayoutEdge[];
  width: number;
  height: number;
}

export interface LayoutOptions {
  nodeWidth: number;
  nodeHeight: number;
  /** the gap between layers */
  gapX: number;
  /** the gap between neighbours in a layer */
  gapY: number;
  margin: number;
  /** the room a long edge takes where it crosses a layer */
  laneHeight: number;
  /** LR: layers left to right (the workflow page); TB: top to bottom (a narrow preview) */
  direction: "LR" | "TB";
}

const DEFAULTS: LayoutOptions = { nodeWidth: 150, nodeHeight: 46, gapX: 60, gapY: 18, margin: 12, laneHeight: 8, direction: "LR" };

/**
 * Layered layout (Sugiyama style): each task in the layer after its deepest
 * dependency; an edge spanning several layers gets a lane in each layer it
 * crosses, so it runs between the boxes rather than through them; each layer is
 * ordered by the mean position of its neighbours (a few down and up sweeps), so
 * edges run left to right with few crossings. Unknown dependencies and cycles
 * are tolerated (a cycle's back edge is ignored for layering).
 */
export function layoutDag(tasks: GraphTask[], options: Partial<LayoutOptions> = {}): Layout {
  const o = { ...DEFAULTS, ...options };
  const names = [...new Set(tasks.map((t) => t.name).filter(Boolean))];
  const known = new Set(names);
  const deps = new Map<string, string[]>();
  for (const t of tasks) if (t.name && !deps.has(t.name)) deps.set(t.name, [...new Set((t.depends_on ?? []).filter((d) => known.has(d) && d !== t.name))]);

  // layers: longest path from a root, iteratively (a 10,000-task chain must not overflow the stack)
  const layer = new Map<string, number>();
  const state = new Map<string, 1 | 2>();
  for (const root of names) {
    if (state.has(root)) continue;
    const stack: [string, number][] = [[root, 0]];
    state.set(root, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const list = deps.get(top[0])!;
      if (top[1] < list.length) {
        const dep = list[top[1]++];
        if (!state.has(dep)) {
          state.set(dep, 1);
          stack.push([dep, 0]);
        }
        continue;
      }
      let d = 0;
      for (const dep of list) if (state.get(dep) === 2) d = Math.max(d, layer.get(dep)! + 1);
      layer.set(top[0], d);
      state.set(top[0], 2);
      stack.pop();
    }
  }

  // the graph to order: real nodes plus one lane node per layer an edge crosses
  const layerOf = new Map(layer);
  const preds = new Map<string, string[]>();
  const succs = new Map<string, string[]>();
  const link = (a: string, b: string) => {
    (succs.get(a) ?? succs.set(a, []).get(a)!).push(b);
    (preds.get(b) ?? preds.set(b, []).get(b)!).push(a);
  };
  const chains: { from: string; to: string; via: string[] }[] = [];
  for (const [name, ds] of deps)
    for (const d of ds) {
      const from = layer.get(d)!;
      const to = layer.get(name)!;
      if (to <= from) continue; // a cycle's back edge: drawn, not layered
      const via: string[] = [];
      let prev = d;
      for (let l = from + 1; l < to; l++) {
        const lane = `\u0000${d}\u0000${name}\u0000${l}`;
        layerOf.set(lane, l);
        via.push(lane);
        link(prev, lane);
        prev = lane;
      }
      link(prev, name);
      chains.push({ from: d, to: name, via });
    }
  const isLane = (n: string) => n.startsWith("\u0000");

  const layers: string[][] = [];
  for (const name of names) (layers[layer.get(name)!] ??= []).push(name);
  for (const c of chains) for (const lane of c.via) layers[layerOf.get(lane)!].push(lane);
  const position = new Map<string, number>();
  layers.forEach((l) => l.forEach((n, i) => position.set(n, i)));
  const mean = (xs: string[] | undefined, fallback: number) => (xs && xs.length ? xs.reduce((s, x) => s + position.get(x)!, 0) / xs.length : fallback);
  for (let sweep = 0; sweep < 6; sweep++) {
    const forward = sweep % 2 === 0;
    const order = forward ? layers.slice(1) : layers.slice(0, -1).reverse();
    for (const l of order) {
      const key = new Map(l.map((n) => [n, mean(forward ? preds.get(n) : succs.get(n), position.get(n)!)]));
      l.sort((a, b) => key.get(a)! - key.get(b)! || position.get(a)! - position.get(b)!);
      l.forEach((n, i) => position.set(n, i));
    }
  }

  // positions in (u along the flow, v across it), mapped to x/y by the direction
  const tb = o.direction === "TB";
  const along = tb ? o.nodeHeight : o.nodeWidth;
  const across = tb ? o.nodeWidth : o.nodeHeight;
  const size = (n: string) => (isLane(n) ? o.laneHeight : across);
  const span = (l: string[]) => l.reduce((h, n) => h + size(n), 0) + Math.max(0, l.length - 1) * o.gapY;
  const widest = Math.max(across, ...layers.map(span));
  const back: [string, string][] = [];
  for (const [name, ds] of deps) for (const d of ds) if (layer.get(name)! <= layer.get(d)!) back.push([d, name]);
  const arch = back.length ? 34 : 0; // room for the arcs of a cycle's back edges
  const u0 = o.margin;
  const v0 = o.margin + arch;
  const layerU = (l: number) => u0 + l * (along + o.gapX);
  const map = ([u, v]: [number, number]): [number, number] => (tb ? [v, u] : [u, v]);

  const nodes = new Map<string, LayoutNode>();
  const box = new Map<string, { u: number; v: number }>();
  const lanes = new Map<string, number>(); // lane -> its centre across the flow
  layers.forEach((l, li) => {
    let v = v0 + (widest - span(l)) / 2;
    const u = layerU(li);
    l.forEach((name, i) => {
      if (isLane(name)) lanes.set(name, v + o.laneHeight / 2);
      else {
        box.set(name, { u, v });
        const [x, y] = map([u, v]);
        nodes.set(name, { name, layer: li, order: i, x, y });
      }
      v += size(name) + o.gapY;
    });
  });

  const edges: LayoutEdge[] = [];
  for (const c of chains) {
    const a = box.get(c.from)!;
    const b = box.get(c.to)!;
    const uv: [number, number][] = [[a.u + along, a.v + across / 2]];
    for (const lane of c.via) {
      const l = layerOf.get(lane)!;
      uv.push([layerU(l), lanes.get(lane)!], [layerU(l) + along, lanes.get(lane)!]);
    }
    uv.push([b.u, b.v + across / 2]);
    const points = uv.map(map);
    edges.push({ from: c.from, to: c.to, points, d: pathThrough(uv, map) });
  }
  // a cycle's back edges (only while editing a draft): an arc over the graph, against the flow
  for (const [d, name] of back) {
    const a = box.get(d)!;
    const b = box.get(name)!;
    const top = o.margin + 4;
    const uv: [number, number][] = [
      [a.u + along / 2, a.v],
      [b.u + along / 2, b.v],
    ];
    const [p0, p1, p2, p3] = [uv[0], [uv[0][0], top], [uv[1][0], top], uv[1]].map((p) => map(p as [number, number]));
    edges.push({ from: d, to: name, points: uv.map(map), d: `M ${p0[0]} ${p0[1]} C ${p1[0]} ${p1[1]}, ${p2[0]} ${p2[1]}, ${p3[0]} ${p3[1]}`, back: true });
  }
  const length = o.margin * 2 + layers.length * along + Math.max(0, layers.length - 1) * o.gapX;
  const breadth = o.margin * 2 + arch + widest;
  return { nodes, edges, width: tb ? breadth : length, height: tb ? length : breadth };
}

/** Curves between layers, straight runs along a lane (in u/v, mapped to x/y). */
function pathThrough(uv: [number, number][], map: (p: [number, number]) => [number, number]): string {
  const at = (p: [number, number]) => map(p).join(" ");
  let d = `M ${at(uv[0])}`;
  for (let i = 1; i < uv.length; i++) {
    const [u0, v0] = uv[i - 1];
    const [u1, v1] = uv[i];
    if (i % 2 === 0) d += ` L ${at([u1, v1])}`;
    else {
      const mid = (u0 + u1) / 2;
      const end = i === uv.length - 1 ? u1 - 2 : u1;
      d += ` C ${at([mid, v0])}, ${at([mid, v1])}, ${at([end, v1])}`;
    }
  }
  return d;
}
