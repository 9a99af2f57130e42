// Fan-outs: siblings that share the same dependencies (after their dependencies'
// own fan-outs are taken as one), drawn as one group node with counts by state
// when collapsed. Pure functions: the workflow page's graph and Vitest use them.
import type { GraphTask } from "./graph";

export interface FanoutGroup {
  /** "group:<n>": never a task name (task names match ^[A-Za-z0-9][A-Za-z0-9_.-]*$) */
  id: string;
  /** a short name for the members: their common prefix, or the first and last */
  label: string;
  members: string[];
}

export const GROUP_PREFIX = "group:";
export const isGroupId = (name: string) => name.startsWith(GROUP_PREFIX);

/** The layer of each task: one more than its deepest dependency (iterative; cycles and unknown names tolerated). */
function layers(names: string[], deps: Map<string, string[]>): Map<string, number> {
  const layer = new Map<string, number>();
  const state = new Map<string, 1 | 2>();
  for (const root of names) {
    if (state.has(root)) continue;
    const stack: [string, number][] = [[root, 0]];
    state.set(root, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const list = deps.get(top[0]) ?? [];
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
  return layer;
}

/** A label for a group's members: "inject-…" for inject-001 … inject-998, else "a … z". */
export function groupLabel(members: string[]): string {
  let prefix = members[0] ?? "";
  for (const m of members) {
    let i = 0;
    while (i < prefix.length && i < m.length && prefix[i] === m[i]) i++;
    prefix = prefix.slice(0, i);
    if (!prefix) break;
  }
  // "t-1", "t-12": the common "t-1" is not a name; cut back to the last separator or letter
  const trimmed = prefix.replace(/[0-9]+$/, "");
  if (trimmed.length >= 2) return `${trimmed}…`;
  return `${members[0]} … ${members[members.length - 1]}`;
}

/**
 * The fan-outs of a workflow: tasks in the same layer whose dependencies are the
 * same, counting a dependency that is itself in a fan-out as that fan-out (so
 * ten parallel chains weigh-i → dissolve-i → inject-i give three groups of ten).
 * Only groups of at least `minSize` tasks are returned, members in the tasks' order.
 */
export function findFanouts(tasks: GraphTask[], minSize = 5): FanoutGroup[] {
  const names: string[] = [];
  const deps = new Map<string, string[]>();
  for (const t of tasks) {
    if (!t.name || deps.has(t.name)) continue;
    names.push(t.name);
    deps.set(t.name, [...new Set(t.depends_on ?? [])].filter((d) => d !== t.name));
  }
  for (const [n, ds] of deps) deps.set(n, ds.filter((d) => deps.has(d)));
  const layer = layers(names, deps);
  const byLayer: string[][] = [];
  for (const n of names) (byLayer[layer.get(n)!] ??= []).push(n);
  const groupOf = new Map<string, string>();
  const groups: FanoutGroup[] = [];
  for (const members of byLayer) {
    if (!members) continue;
    const buckets = new Map<string, string[]>();
    for (const n of members) {
      const key = [...new Set(deps.get(n)!.map((d) => groupOf.get(d) ?? d))].sort().join("\u0000");
      (buckets.get(key) ?? buckets.set(key, []).get(key)!).push(n);
    }
    for (const bucket of buckets.values()) {
      if (bucket.length < minSize) continue;
      const id = `${GROUP_PREFIX}${groups.length + 1}`;
      groups.push({ id, label: groupLabel(bucket), members: bucket });
      for (const n of bucket) groupOf.set(n, id);
    }
  }
  return groups;
}

export interface CollapsedGraph {
  /** the graph to lay out: tasks outside collapsed groups, and one node per collapsed group */
  nodes: GraphTask[];
  /** task name -> the node that shows it (itself, or its collapsed group) */
  nodeOf: Map<string, string>;
  /** collapsed group id -> its group */
  groups: Map<string, FanoutGroup>;
}

/** The graph with each collapsed group as one node; edges between nodes are the union of their members' edges. */
export function collapse(tasks: GraphTask[], groups: FanoutGroup[], collapsed: ReadonlySet<string>): CollapsedGraph {
  const nodeOf = new Map<string, string>();
  const shown = new Map<string, FanoutGroup>();
  for (const g of groups)
    if (collapsed.has(g.id)) {
      shown.set(g.id, g);
      for (const m of g.members) nodeOf.set(m, g.id);
    }
  for (const t of tasks) if (t.name && !nodeOf.has(t.name)) nodeOf.set(t.name, t.name);
  const depsOf = new Map<string, Set<string>>();
  const order: string[] = [];
  for (const t of tasks) {
    if (!t.name) continue;
    const node = nodeOf.get(t.name)!;
    let set = depsOf.get(node);
    if (!set) {
      set = new Set();
      depsOf.set(node, set);
      order.push(node);
    }
    for (const d of t.depends_on ?? []) {
      const dn = nodeOf.get(d);
      if (dn !== undefined && dn !== node) set.add(dn);
    }
  }
  return { nodes: order.map((name) => ({ name, depends_on: [...depsOf.get(name)!] })), nodeOf, groups: shown };
}

/** How many of `members` are in each state, in the order of `states`, zeros left out. */
export function countByState<S extends string>(members: string[], statusOf: (name: string) => S | undefined, states: readonly S[]): [S, number][] {
  const counts = new Map<S, number>();
  for (const m of members) {
    const s = statusOf(m);
    if (s !== undefined) counts.set(s, (counts.get(s) ?? 0) + 1);
  }
  return states.filter((s) => counts.has(s)).map((s) => [s, counts.get(s)!]);
}

/** The state a group node is drawn in: the first of `priority` that any member is in. */
export function groupStatus<S extends string>(counts: [S, number][], priority: readonly S[]): S | undefined {
  for (const s of priority) if (counts.some(([c]) => c === s)) return s;
  return counts[0]?.[0];
}
