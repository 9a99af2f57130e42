import { describe, expect, it } from "vitest";
import type { Workflow } from "../api/types";
import { bulkApplies, filtersHere, parseFilters, runBulk, submittersOf, viewOf, type BulkCalls } from "./listView";

const wf = (id: string, extra: Partial<Workflow> = {}): Workflow =>
  ({
    id,
    name: id,
    description: "",
    labels: {},
    status: "running",
    created_by: "user:olga",
    created_at: "2026-11-20T12:00:00Z",
    started_at: "2026-11-20T12:00:00Z",
    finished_at: null,
    progress: { total: 1, unfinished: 1, failed: 0 },
    tasks: [],
    ...extra,
  }) as Workflow;

describe("the list's filters", () => {
  it("reads every filter from the query string, ignoring what it does not know", () => {
    const f = parseFilters(new URLSearchParams("status=failed&q=assay&label=batch=B-1&label=nokey&submitter=user:olga&from=2026-11-01&to=bad&instrument=hplc-01&sort=name"));
    expect(f).toEqual({ status: "failed", q: "assay", labels: ["batch=B-1"], submitter: "user:olga", from: "2026-11-01", to: "", instrument: "hplc-01", sort: "name" });
    expect(parseFilters(new URLSearchParams("status=exploded&sort=random"))).toMatchObject({ status: "", sort: "newest" });
    expect(filtersHere(parseFilters(new URLSearchParams("status=failed&q=x")))).toBe(false);
    expect(filtersHere(parseFilters(new URLSearchParams("sort=oldest")))).toBe(true);
  });

  it("filters the loaded workflows by submitter, day range and instrument", () => {
    const items = [
      wf("a", { created_by: "user:olga", created_at: "2026-11-19T12:00:00Z" }),
      wf("b", { created_by: "user:ben", created_at: "2026-11-20T12:00:00Z", tasks: [{ instrument: "hplc-01" } as Workflow["tasks"][number]] }),
      wf("c", { created_by: "user:olga", created_at: "2026-11-22T12:00:00Z" }),
    ];
    const ids = (q: string) => viewOf(items, parseFilters(new URLSearchParams(q))).map((w) => w.id);
    expect(ids("")).toEqual(["a", "b", "c"]);
    expect(ids("submitter=user:olga")).toEqual(["a", "c"]);
    expect(ids("from=2026-11-20&to=2026-11-21")).toEqual(["b"]);
    expect(ids("instrument=hplc-01")).toEqual(["b"]);
    expect(submittersOf(items, "user:zoe")).toEqual(["user:ben", "user:olga", "user:zoe"]);
  });

  it("sorts by name, age, status or how long each ran", () => {
    const items = [
      wf("b", { status: "failed", created_at: "2026-11-21T00:00:00Z", started_at: "2026-11-21T00:00:00Z", finished_at: "2026-11-21T00:00:10Z" }),
      wf("a", { status: "running", created_at: "2026-11-20T00:00:00Z", started_at: "2026-11-20T00:00:00Z" }),
      wf("c", { status: "pending", created_at: "2026-11-22T00:00:00Z", started_at: null }),
    ];
    const ids = (sort: string) => viewOf(items, parseFilters(new URLSearchParams(`sort=${sort}`)), Date.parse("2026-11-23T00:00:00Z")).map((w) => w.id);
    expect(ids("newest")).toEqual(["b", "a", "c"]); // the API's order
    expect(ids("oldest")).toEqual(["a", "b", "c"]);
    expect(ids("name")).toEqual(["a", "b", "c"]);
    expect(ids("status")).toEqual(["c", "a", "b"]);
    expect(ids("longest")).toEqual(["a", "b", "c"]);
  });
});

describe("bulk actions", () => {
  it("offers cancel for unfinished workflows and retry for failed ones", () => {
    expect(["pending", "running", "paused", "succeeded", "failed", "cancelled"].map((s) => [bulkApplies("cancel", wf("x", { status: s as Workflow["status"] })), bulkApplies("retry", wf("x", { status: s as Workflow["status"] }))])).toEqual([
      [true, false],
      [true, false],
      [true, false],
      [false, false],
      [false, true],
      [false, false],
    ]);
  });

  it("cancels each with the one reason and reports each answer, a refusal included", async () => {
    const sent: string[] = [];
    const calls: BulkCalls = {
      cancel: async (id, reason) => (sent.push(`${id}:${reason}`), id === "b" ? { ok: false, error: { status: 409, message: "it is succeeded" } } : { ok: true, data: wf(id, { status: "cancelled" }) }),
      read: async () => ({ ok: false, error: { status: 500, message: "unused" } }),
      retry: async () => ({ ok: false, error: { status: 500, message: "unused" } }),
    };
    const results = await runBulk("cancel", [wf("a"), wf("b")], "wrong batch", calls);
    expect(sent).toEqual(["a:wrong batch", "b:wrong batch"]);
    expect(results).toEqual([
      { id: "a", name: "a", ok: true, text: "now cancelled" },
      { id: "b", name: "b", ok: false, text: "refused (HTTP 409): it is succeeded" },
    ]);
  });

  it("retries every failed task of each failed workflow, as it is now", async () => {
    const sent: string[] = [];
    const task = (name: string, status: string) => ({ name, status }) as Workflow["tasks"][number];
    const calls: BulkCalls = {
      cancel: async () => ({ ok: false, error: { status: 500, message: "unused" } }),
      read: async (id) => ({ ok: true, data: wf(id, { status: id === "c" ? "running" : "failed", tasks: id === "a" ? [task("x", "failed"), task("y", "succeeded"), task("z", "failed")] : [] }) }),
      retry: async (id, name, reason) => (sent.push(`${id}/${name}:${reason}`), { ok: true, data: wf(id, { status: "running" }) }),
    };
    const results = await runBulk("retry", [wf("a", { status: "failed" }), wf("c", { status: "failed" })], "pH meter recalibrated", calls);
    expect(sent).toEqual(["a/x:pH meter recalibrated", "a/z:pH meter recalibrated"]);
    expect(results.map((r) => [r.id, r.ok, r.text])).toEqual([
      ["a", true, "retried 2 of 2 failed tasks (x, z); now running"],
      ["c", false, "no failed task to retry (it is running)"],
    ]);
  });
});
