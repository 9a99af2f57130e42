import { applyEvents } from "../live/apply";
import type { HistoryEntry, Instrument, Task, Workflow } from "../api/types";
import { layoutDag } from "./graph";
import { collapse, countByState, findFanouts, groupLabel, groupStatus } from "./groups";
import { headline } from "./headline";
import { centreOn, fitView, visibleRows, visibleWorld, zoomAt } from "./viewport";
import { describePlace, ordinal, placesInLine, waitingSpans } from "./waiting";

const fan = (n: number) => [
  { name: "prepare" },
  ...Array.from({ length: n }, (_, i) => ({ name: `inject-${String(i + 1).padStart(3, "0")}`, depends_on: ["prepare"] })),
  { name: "report", depends_on: Array.from({ length: n }, (_, i) => `inject-${String(i + 1).padStart(3, "0")}`) },
];

describe("fan-outs", () => {
  it("finds siblings with the same dependencies and collapses them into one node", () => {
    const tasks = fan(998);
    const groups = findFanouts(tasks, 5);
    expect(groups.map((g) => [g.label, g.members.length])).toEqual([["inject-…", 998]]);
    const g = collapse(tasks, groups, new Set([groups[0].id]));
    expect(g.nodes).toEqual([
      { name: "prepare", depends_on: [] },
      { name: groups[0].id, depends_on: ["prepare"] },
      { name: "report", depends_on: [groups[0].id] },
    ]);
    expect(g.nodeOf.get("inject-500")).toBe(groups[0].id);
    expect(collapse(tasks, groups, new Set()).nodes).toHaveLength(1000);
  });

  it("groups parallel chains stage by stage, and leaves small or unlike siblings alone", () => {
    const tasks = [{ name: "start" }];
    for (let i = 0; i < 10; i++) tasks.push({ name: `weigh-${i}`, depends_on: ["start"] } as never, { name: `dissolve-${i}`, depends_on: [`weigh-${i}`] } as never);
    tasks.push({ name: "a", depends_on: ["start"] } as never);
    const groups = findFanouts(tasks, 5);
    // "a" shares weigh-*'s dependency, so it is one of that fan-out; dissolve-* are one group of their own
    expect(groups.map((g) => g.members.length)).toEqual([11, 10]);
    expect(groups[1].label).toBe("dissolve-…");
    const g = collapse(tasks, groups, new Set(groups.map((x) => x.id)));
    expect(g.nodes.find((n) => n.name === groups[1].id)!.depends_on).toEqual([groups[0].id]);
    expect(findFanouts(fan(4), 5)).toEqual([]);
  });

  it("counts members by state and draws the group in its most pressing state", () => {
    const status: Record<string, "succeeded" | "running" | "failed"> = { a: "succeeded", b: "running", c: "succeeded" };
    const counts = countByState(["a", "b", "c"], (n) => status[n], ["running", "succeeded", "failed"] as const);
    expect(counts).toEqual([["running", 1], ["succeeded", 2]]);
    expect(groupStatus(counts, ["failed", "running", "succeeded"])).toBe("running");
    expect(groupLabel(["x", "y", "z"])).toBe("x … z");
  });

  it("lays out 10,000 tasks in well under a second (printed)", () => {
    const tasks: { name: string; depends_on?: string[] }[] = [{ name: "load" }];
    for (let i = 0; i < 4999; i++) tasks.push({ name: `weigh-${i}`, depends_on: ["load"] }, { name: `measure-${i}`, depends_on: [`weigh-${i}`] });
    tasks.push({ name: "report", depends_on: tasks.filter((t) => t.name.startsWith("measure-")).map((t) => t.name) });
    const opts = { nodeWidth: 168, nodeHeight: 56, gapX: 52, gapY: 14 };
    let t0 = performance.now();
    const groups = findFanouts(tasks);
    const collapsed = layoutDag(collapse(tasks, groups, new Set(groups.map((g) => g.id))).nodes, opts);
    const groupedMs = performance.now() - t0;
    t0 = performance.now();
    const full = layoutDag(tasks, opts);
    const fullMs = performance.now() - t0;
    console.log(`layout of 10,000 tasks: grouped ${groupedMs.toFixed(0)} ms (${collapsed.nodes.size} nodes), expanded ${fullMs.toFixed(0)} ms (${full.nodes.size} nodes)`);
    expect(collapsed.nodes.size).toBe(4);
    expect(full.nodes.size).toBe(10000);
    expect(full.nodes.get("report")!.layer).toBe(3);
  });
});

describe("viewport", () => {
  it("fits, zooms about a point and centres", () => {
    const v = fitView(1000, 500, 500, 300, 0);
    expect(v.k).toBeCloseTo(0.5);
    expect(v).toEqual({ k: 0.5, x: 0, y: 25 });
    expect(fitView(100, 50, 500, 300).k).toBe(1); // small graphs are not blown up
    const z = zoomAt(v, 2, 100, 100);
    // the world point under (100, 100) stays there
    expect((100 - z.x) / z.k).toBeCloseTo((100 - v.x) / v.k);
    const c = centreOn(500, 250, 400, 200, 1);
    expect(visibleWorld(c, 400, 200)).toEqual({ x: 300, y: 150, w: 400, h: 200 });
    expect(visibleRows(10000, 24, 2400, 240, 5)).toEqual([95, 115]);
    expect(visibleRows(3, 24, 0, 240, 5)).toEqual([0, 3]);
  });
});

const task = (over: Partial<Task>): Task =>
  ({ id: over.name, name: "t", status: "pending", executor: "noop", depends_on: [], attempt: 0, max_attempts: 1, attempts: [], params: {}, outputs: null, error: null, instrument: null, queued_at: null, started_at: null, finished_at: null, ...over }) as Task;

describe("waiting", () => {
  it("takes the spans in `waiting` from the history", () => {
    const h = (task_name: string, to_status: string, at: string) => ({ task_name, to_status, at }) as HistoryEntry;
    const spans = waitingSpans([h("w", "waiting", "2026-01-01T00:00:00Z"), h("w", "queued", "2026-01-01T00:00:04Z"), h("v", "waiting", "2026-01-01T00:00:01Z")]);
    expect(spans.get("w")).toEqual([{ start: Date.parse("2026-01-01T00:00:00Z"), end: Date.parse("2026-01-01T00:00:04Z") }]);
    expect(spans.get("v")![0].end).toBeNull();
  });

  it("places a waiting task in its instrument's line", () => {
    const it = (task_id: string, task_name: string) => ({ task_id, task_name, workflow_name: "wf" }) as Instrument["queue"][number];
    const balance = { id: "balance-01", queue: [it("x", "other"), it("me", "weigh-2")], current: [it("y", "weigh-1")] } as Instrument;
    const places = placesInLine([task({ name: "weigh-2", id: "me", status: "waiting", instrument: "balance-01" })], [balance]);
    const p = places.get("weigh-2")!;
    expect(p.position).toBe(2);
    expect(p.ahead.map((a) => a.task_name)).toEqual(["other"]);
    expect(describePlace(p)).toBe("2nd of 2 in line for balance-01");
    expect([1, 2, 3, 4, 11, 12, 13, 21, 22].map(ordinal)).toEqual(["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd"]);
  });
});

describe("live updates and the headline", () => {
  const wf = { id: "w", status: "running", tasks: [task({ name: "a", id: "ta" }), task({ name: "b", id: "tb", depends_on: ["a"] })] } as unknown as Workflow;

  it("applies a burst of events in one pass, the last word for each task winning", () => {
    const e = (task_id: string, status: string) => ({ type: `task.${status}`, workflow_id: "w", task_id, attempt: 1, data: { status } }) as never;
    const after = applyEvents(wf, [e("ta", "queued"), e("ta", "running"), e("ta", "succeeded"), e("tb", "queued"), { type: "workflow.running", workflow_id: "other", data: { status: "failed" } } as never]);
    expect(after.tasks.map((t) => t.status)).toEqual(["succeeded", "queued"]);
    expect(after.status).toBe("running");
    expect(applyEvents(wf, [])).toBe(wf);
    // a late event (the stream racing the re-read) does not move a finished task back
    const late = applyEvents(after, [e("ta", "running"), e("tb", "running")]);
    expect(late.tasks.map((t) => t.status)).toEqual(["succeeded", "running"]);
  });

  it("puts the first error and the final tasks' scalar results first", () => {
    const w = {
      ...wf,
      tasks: [
        task({ name: "a", status: "failed", error: "late", finished_at: "2026-01-01T00:00:09Z" }),
        task({ name: "c", status: "failed", error: "balance offline", finished_at: "2026-01-01T00:00:02Z" }),
        task({ name: "compute", status: "succeeded", depends_on: ["a"], outputs: { assay_percent: 98.48, pass: true, peaks: [1, 2] } }),
      ],
    } as Workflow;
    const h = headline(w);
    expect(h.error).toEqual({ task: "c", message: "balance offline", at: "2026-01-01T00:00:02Z", more: 1 });
    expect(h.results).toEqual([{ task: "compute", values: [["assay_percent", 98.48], ["pass", true]] }]);
  });
});
