import { describe, expect, it } from "vitest";
import { findCycles, graphProblems, layoutDag } from "./graph";

describe("graphProblems", () => {
  it("accepts a diamond", () => {
    expect(
      graphProblems([
        { name: "a" },
        { name: "b", depends_on: ["a"] },
        { name: "c", depends_on: ["a"] },
        { name: "d", depends_on: ["b", "c"] },
      ]),
    ).toEqual([]);
  });

  it("names duplicates, unknown and self dependencies at the field they are about", () => {
    const problems = graphProblems([
      { name: "a", depends_on: ["ghost"] },
      { name: "a" },
      { name: "b", depends_on: ["b", "a", "a"] },
    ]);
    expect(problems.map((p) => [p.index, p.field, p.kind])).toEqual([
      [1, "name", "duplicate"],
      [0, "depends_on", "unknown-dependency"],
      [2, "depends_on", "self-dependency"],
      [2, "depends_on", "repeated-dependency"],
    ]);
    expect(problems[1].message).toBe("task 'a' depends on unknown task 'ghost'");
  });

  it("finds a cycle and names it in order on every task of it", () => {
    const problems = graphProblems([
      { name: "a", depends_on: ["c"] },
      { name: "b", depends_on: ["a"] },
      { name: "c", depends_on: ["b"] },
      { name: "d", depends_on: ["c"] },
    ]);
    expect(problems.every((p) => p.kind === "cycle")).toBe(true);
    expect(problems.map((p) => p.task).sort()).toEqual(["a", "b", "c"]);
    // each task depends on the next: a -> c -> b -> a
    expect(problems[0].message).toBe("cycle: a → c → b → a (each task depends on the next)");
  });

  it("reports each of several cycles once", () => {
    expect(
      findCycles([
        { name: "a", depends_on: ["b"] },
        { name: "b", depends_on: ["a"] },
        { name: "c", depends_on: ["d"] },
        { name: "d", depends_on: ["c"] },
      ]),
    ).toEqual([
      ["a", "b"],
      ["c", "d"],
    ]);
  });
});

describe("layoutDag", () => {
  const opts = { nodeWidth: 100, nodeHeight: 40, gapX: 50, gapY: 10, margin: 5, laneHeight: 8 };

  it("puts each task one layer after its deepest dependency", () => {
    const layout = layoutDag(
      [{ name: "a" }, { name: "b", depends_on: ["a"] }, { name: "c", depends_on: ["a", "b"] }, { name: "x" }],
      opts,
    );
    const layerOf = (n: string) => layout.nodes.get(n)!.layer;
    expect([layerOf("a"), layerOf("b"), layerOf("c"), layerOf("x")]).toEqual([0, 1, 2, 0]);
    expect(layout.width).toBe(5 * 2 + 3 * 100 + 2 * 50);
  });

  it("routes an edge that spans layers through a lane, not through the boxes between", () => {
    const layout = layoutDag(
      [{ name: "a" }, { name: "b", depends_on: ["a"] }, { name: "c", depends_on: ["b"] }, { name: "d", depends_on: ["a", "c"] }],
      opts,
    );
    const long = layout.edges.find((e) => e.from === "a" && e.to === "d")!;
    expect(long.points).toHaveLength(2 + 2 * 2); // two layers crossed
    for (const name of ["b", "c"]) {
      const box = layout.nodes.get(name)!;
      for (const [x, y] of long.points.slice(1, -1))
        if (x >= box.x && x <= box.x + 100) expect(y < box.y || y > box.y + 40).toBe(true);
    }
  });

  it("never overlaps two boxes of one layer", () => {
    const tasks = [{ name: "root" }, ...Array.from({ length: 12 }, (_, i) => ({ name: `leaf-${i}`, depends_on: ["root"] })), { name: "join", depends_on: Array.from({ length: 12 }, (_, i) => `leaf-${i}`) }];
    const layout = layoutDag(tasks, opts);
    const leaves = [...layout.nodes.values()].filter((n) => n.layer === 1).sort((a, b) => a.y - b.y);
    for (let i = 1; i < leaves.length; i++) expect(leaves[i].y - leaves[i - 1].y).toBeGreaterThanOrEqual(40);
  });

  it("lays out a long chain without recursion limits and tolerates cycles", () => {
    const chain = Array.from({ length: 20000 }, (_, i) => ({ name: `t${i}`, depends_on: i ? [`t${i - 1}`] : [] }));
    expect(layoutDag(chain, opts).nodes.get("t19999")!.layer).toBe(19999);
    const cyclic = layoutDag([{ name: "a", depends_on: ["b"] }, { name: "b", depends_on: ["a"] }], opts);
    expect(cyclic.nodes.size).toBe(2);
    expect(cyclic.edges).toHaveLength(2);
  });

  it("lays out top to bottom for a narrow column, and arcs a cycle's back edge over the graph", () => {
    const tasks = [{ name: "a" }, { name: "b", depends_on: ["a"] }, { name: "c", depends_on: ["a"] }];
    const tb = layoutDag(tasks, { ...opts, direction: "TB" });
    // two layers down, two boxes side by side
    expect([tb.width, tb.height]).toEqual([5 * 2 + 2 * 100 + 10, 5 * 2 + 2 * 40 + 50]);
    expect(tb.nodes.get("b")!.y).toBe(tb.nodes.get("c")!.y);
    expect(tb.nodes.get("b")!.y).toBeGreaterThan(tb.nodes.get("a")!.y + 40);
    const cyclic = layoutDag([{ name: "a", depends_on: ["b"] }, { name: "b", depends_on: ["a"] }], opts);
    const back = cyclic.edges.filter((e) => e.back);
    expect(back).toHaveLength(1);
    expect(cyclic.nodes.get("a")!.y).toBeGreaterThan(opts.margin + 20); // room for the arc above
  });
});
