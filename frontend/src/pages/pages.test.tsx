import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { set as setSession } from "../auth/session";
import { mockFetch } from "../test/fetchMock";
import { chromatogramOutputs } from "../test/fixtures";
import { Lab } from "./Lab";
import { WorkflowList } from "./WorkflowList";
import { WorkflowPage } from "./WorkflowPage";

// The pages as an operator sees them (a viewer's are tested in the browser).
beforeEach(() => setSession({ name: "ana", roles: ["operator"], open_mode: false, trace_url_template: "" }));

const T0 = "2026-11-26T10:00:00Z";
const at = (s: number) => new Date(Date.parse(T0) + s * 1000).toISOString();

function task(name: string, status: string, extra: Record<string, unknown> = {}) {
  return {
    id: `id-${name}`,
    name,
    executor: "noop",
    instrument: null,
    params: {},
    depends_on: [],
    status,
    attempt: status === "pending" ? 0 : 1,
    max_attempts: 3,
    timeout_s: null,
    retry_at: null,
    outputs: null,
    error: null,
    runner_id: null,
    queued_at: status === "pending" ? null : at(0),
    started_at: status === "pending" ? null : at(0.1),
    finished_at: status === "succeeded" ? at(1) : null,
    heartbeat_at: null,
    attempts: [],
    ...extra,
  };
}

function workflow(status: string, tasks: ReturnType<typeof task>[]) {
  const unfinished = tasks.filter((t) => !["succeeded", "failed", "skipped", "cancelled"].includes(t.status)).length;
  return {
    id: "w1",
    name: "chromatography",
    description: "",
    labels: { batch: "B-1" },
    status,
    created_by: "user:anonymous",
    created_at: T0,
    started_at: at(0),
    finished_at: null,
    progress: { total: tasks.length, unfinished, failed: 0 },
    tasks,
  };
}

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe("WorkflowPage", () => {
  it("follows the workflow by polling when there is no event stream, without reloading", async () => {
    let phase = 0;
    const hplc = task("hplc", "succeeded", { outputs: chromatogramOutputs() });
    mockFetch(({ url }) => {
      if (url === "/api/workflows/w1")
        return {
          status: 200,
          body:
            phase === 0
              ? workflow("running", [hplc, task("report", "running", { depends_on: ["hplc"] })])
              : workflow("succeeded", [hplc, task("report", "succeeded", { depends_on: ["hplc"] })]),
        };
      if (url === "/api/workflows/w1/history?limit=1000")
        return { status: 200, body: [{ id: 1, task_id: null, task_name: null, attempt: null, from_status: null, to_status: "pending", actor: "user:ann", reason: "submitted", at: T0 }] };
      return undefined;
    });
    render(<WorkflowPage id="w1" task={null} />);
    const report = await screen.findByRole("button", { name: /task report: running/ });
    expect(report.getAttribute("data-status")).toBe("running");
    expect(screen.getByText("polling (live stream unavailable)")).toBeTruthy();
    expect(screen.getByRole("cell", { name: "submitted" })).toBeTruthy();
    phase = 1;
    await waitFor(() => expect(screen.getByRole("button", { name: /task report: succeeded/ })).toBeTruthy(), { timeout: 4000 });
  });

  it("shows a task's chart, and an operator action's refusal", async () => {
    const user = userEvent.setup();
    mockFetch(({ url, method }) => {
      if (url === "/api/workflows/w1")
        return { status: 200, body: workflow("running", [task("hplc", "succeeded", { outputs: chromatogramOutputs() }), task("wait", "running")]) };
      if (url === "/api/workflows/w1/history?limit=1000") return { status: 200, body: [] };
      if (method === "POST" && url === "/api/workflows/w1/pause") return { status: 409, body: { detail: "the workflow is already paused" } };
      return undefined;
    });
    render(<WorkflowPage id="w1" task="hplc" />);
    expect(await screen.findByRole("img", { name: /Chromatogram at 254 nm/ })).toBeTruthy();
    await user.click(screen.getByRole("button", { name: "Pause" }));
    const dialog = screen.getByRole("dialog", { name: "Pause workflow" });
    await user.type(within(dialog).getByLabelText(/Reason/), "column change");
    await user.click(within(dialog).getByRole("button", { name: "Pause workflow" }));
    expect((await within(dialog).findByRole("alert")).textContent).toBe("Refused (HTTP 409): the workflow is already paused");
  });
});

describe("WorkflowPage's trace link", () => {
  const answers = ({ url }: { url: string }) => {
    if (url === "/api/workflows/w1") return { status: 200, body: { ...workflow("running", [task("a", "running")]), trace_id: "0123456789abcdef0123456789abcdef" } };
    if (url === "/api/workflows/w1/history?limit=1000") return { status: 200, body: [] };
    return undefined;
  };

  it("links the workflow's trace when a trace viewer is configured", async () => {
    setSession({ name: "ana", roles: ["viewer"], open_mode: false, trace_url_template: "http://127.0.0.1:16686/trace/{trace_id}" });
    mockFetch(answers);
    render(<WorkflowPage id="w1" task={null} />);
    const link = await screen.findByRole("link", { name: /Open the trace/ });
    expect(link.getAttribute("href")).toBe("http://127.0.0.1:16686/trace/0123456789abcdef0123456789abcdef");
    expect(link.getAttribute("rel")).toBe("noopener noreferrer");
  });

  it("shows no trace link without one", async () => {
    mockFetch(answers);
    render(<WorkflowPage id="w1" task={null} />);
    await screen.findByRole("button", { name: /task a: running/ });
    expect(screen.queryByRole("link", { name: /Open the trace/ })).toBeNull();
  });
});

describe("a manual step", () => {
  it("shows its instructions and completes it with outputs and a reason", async () => {
    const user = userEvent.setup();
    const posted: unknown[] = [];
    const step = task("dissolve", "running", { executor: "manual", params: { instructions: "Dissolve in 100 mL mobile phase" } });
    mockFetch(({ url, method, body }) => {
      if (url === "/api/workflows/w1") return { status: 200, body: workflow("running", [step]) };
      if (url === "/api/workflows/w1/history?limit=1000") return { status: 200, body: [] };
      if (method === "POST" && url === "/api/workflows/w1/tasks/dissolve/complete") {
        posted.push(body);
        return { status: 200, body: workflow("succeeded", [{ ...step, status: "succeeded" }]) };
      }
      return undefined;
    });
    render(<WorkflowPage id="w1" task="dissolve" />);
    expect((await screen.findByRole("note")).textContent).toBe("Awaiting an operator: Dissolve in 100 mL mobile phase");
    expect(screen.getByRole("button", { name: "Retry" })).toHaveProperty("disabled", true);
    await user.click(screen.getByRole("button", { name: "Complete" }));
    const dialog = screen.getByRole("dialog", { name: "Complete task dissolve" });
    await user.type(within(dialog).getByLabelText(/Reason/), "done at the bench");
    await user.type(within(dialog).getByLabelText("Name 1"), "volume_ml");
    await user.type(within(dialog).getByLabelText("Value 1"), "100");
    await user.click(within(dialog).getByRole("button", { name: "Complete task" }));
    expect((await within(dialog).findByRole("status")).textContent).toBe("Accepted: task dissolve is now succeeded.");
    expect(posted).toEqual([{ reason: "done at the bench", outputs: { volume_ml: 100 } }]);
  });
});

describe("WorkflowList", () => {
  it("lists workflows with the filters of the hash", async () => {
    const calls = mockFetch(({ url }) => (url.startsWith("/api/workflows?") ? { status: 200, body: { items: [workflow("running", [task("a", "succeeded"), task("b", "running")])], next_cursor: null } } : undefined));
    render(<WorkflowList query={new URLSearchParams("status=running&q=chrom")} />);
    const row = (await screen.findByRole("link", { name: "chromatography" })).closest("tr")!;
    expect(within(row).getByText("running")).toBeTruthy();
    expect(within(row).getByLabelText("1 of 2 tasks finished")).toBeTruthy();
    expect(calls.find((c) => c.url.startsWith("/api/workflows"))?.url).toBe("/api/workflows?status=running&q=chrom&limit=50&include=tasks");
    expect(screen.getByLabelText("Status")).toHaveProperty("value", "running");
    expect(screen.getByLabelText("Search by name")).toHaveProperty("value", "chrom");
  });

  it("writes a changed filter into the hash", async () => {
    const user = userEvent.setup();
    mockFetch(({ url }) => (url.startsWith("/api/workflows?") ? { status: 200, body: { items: [], next_cursor: null } } : undefined));
    render(<WorkflowList query={new URLSearchParams()} />);
    expect(await screen.findByText(/No workflows yet/)).toBeTruthy();
    await user.selectOptions(screen.getByLabelText("Status"), "failed");
    expect(window.location.hash).toBe("#/workflows?status=failed");
  });
});

describe("Lab", () => {
  it("says so when no instrument is registered and no runner has announced itself", async () => {
    mockFetch(({ url }) => (url === "/api/instruments" || url === "/api/runners" ? { status: 200, body: [] } : undefined));
    render(<Lab />);
    expect(await screen.findByText(/No instruments registered/)).toBeTruthy();
    expect(await screen.findByText("No runner has announced itself.")).toBeTruthy();
  });

  it("draws each instrument with its status, current task and queue", async () => {
    const ref = (name: string, status: string) => ({ workflow_id: "w1", workflow_name: "assay", task_id: `t-${name}`, task_name: name, status, started_at: status === "running" ? T0 : null, queued_at: null, ready_at: T0 });
    mockFetch(({ url }) => {
      if (url === "/api/instruments")
        return {
          status: 200,
          body: [
            { id: "hplc-01", name: "HPLC", kind: "hplc", capacity: 1, status: "online", parameters_schema: {}, current: [ref("inject-1", "running")], queue: [ref("inject-2", "waiting"), ref("inject-3", "waiting")] },
            { id: "ph-01", name: "pH meter", kind: "ph_meter", capacity: 1, status: "maintenance", parameters_schema: {}, current: [], queue: [] },
          ],
        };
      if (url === "/api/runners") return { status: 200, body: [] };
      return undefined;
    });
    render(<Lab />);
    const hplc = (await screen.findByRole("heading", { name: "HPLC" })).closest("li")!;
    expect(within(hplc).getByRole("link", { name: "inject-1 · assay" }).getAttribute("href")).toBe("#/workflows/w1?task=inject-1");
    expect(within(hplc).getAllByRole("listitem").map((li) => li.textContent)).toEqual(expect.arrayContaining(["inject-2 · assay", "inject-3 · assay"]));
    expect(within(hplc).getByText("busy 1/1")).toBeTruthy();
    const ph = screen.getByRole("heading", { name: "pH meter" }).closest("li")!;
    expect(within(ph).getByText("maintenance")).toBeTruthy();
    await act(async () => {});
  });
});

describe("review and release (issue #12)", () => {
  const sha = "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12";
  const review = { id: "s1", signer: "rita", full_name: "Rita Reviewer", meaning: "reviewed", comment: null, at: at(5), results_sha256: sha, stale: false };
  function finished(signatures: unknown[], release: string) {
    return { ...workflow("succeeded", [task("hplc", "succeeded")]), finished_at: at(2), requires_approval: true, release, signatures, results_sha256: sha };
  }
  const chained = [
    { id: 11, seq: 1, prev_hash: null, hash: "1111aaaa2222bbbb", task_id: null, task_name: null, attempt: null, from_status: null, to_status: "pending", actor: "user:ann", reason: "submitted", at: T0 },
    { id: 12, seq: 2, prev_hash: "1111aaaa2222bbbb", hash: "3333cccc4444dddd", task_id: null, task_name: null, attempt: null, from_status: null, to_status: "signed", actor: "user:rita", reason: "reviewed: ok", at: at(5) },
  ];

  it("a reviewer signs in the dialog; the signature shows, and focus returns to Sign", async () => {
    setSession({ name: "abe", roles: ["reviewer"], open_mode: false, trace_url_template: "" });
    const user = userEvent.setup();
    let signed = false;
    const calls = mockFetch(({ url, method }) => {
      if (url === "/api/workflows/w1")
        return { status: 200, body: signed ? finished([review, { ...review, id: "s2", signer: "abe", full_name: "Abe Approver", meaning: "approved", at: at(9) }], "released") : finished([review], "awaiting approval") };
      if (url === "/api/workflows/w1/history?limit=1000") return { status: 200, body: chained };
      if (method === "POST" && url === "/api/workflows/w1/signatures") {
        signed = true;
        return { status: 201, body: { ...review, id: "s2", signer: "abe", full_name: "Abe Approver", meaning: "approved", at: at(9) } };
      }
      return undefined;
    });
    render(<WorkflowPage id="w1" task={null} />);
    const panel = await screen.findByRole("region", { name: "Review and release" });
    expect(within(panel).getByText("awaiting approval")).toBeTruthy();
    expect(within(panel).getByRole("listitem").textContent).toContain("Reviewed by Rita Reviewer (rita)");
    expect(screen.queryByRole("group", { name: "Workflow actions" })).toBeNull();
    const signButton = within(panel).getByRole("button", { name: "Sign" });
    await user.click(signButton);
    const dialog = screen.getByRole("dialog", { name: "Sign chromatography" });
    // the review is there, so approval is what is left to give
    expect(within(dialog).getByRole("radio", { name: /Approved/ })).toHaveProperty("checked", true);
    await user.type(within(dialog).getByLabelText("Your password"), "abe-approves");
    await user.click(within(dialog).getByRole("button", { name: "Sign as approved" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    await waitFor(() => expect(document.activeElement).toBe(signButton));
    expect(await within(panel).findByText(/^Signed: approved by Abe Approver/)).toBeTruthy();
    await waitFor(() => expect(within(panel).getAllByRole("listitem")).toHaveLength(2));
    expect(screen.getAllByText("✓ released").length).toBeGreaterThan(0);
    // hashes for everyone; the chain's check only for admins
    expect(screen.getByText("3333cccc44…")).toBeTruthy();
    expect(calls.some((c) => c.url.startsWith("/api/audit/verify"))).toBe(false);
    expect(screen.queryByText(/Chain verified/)).toBeNull();
  });

  it("an operator is offered no Sign button", async () => {
    mockFetch(({ url }) => {
      if (url === "/api/workflows/w1") return { status: 200, body: finished([], "awaiting review") };
      if (url === "/api/workflows/w1/history?limit=1000") return { status: 200, body: chained };
      return undefined;
    });
    render(<WorkflowPage id="w1" task={null} />);
    const panel = await screen.findByRole("region", { name: "Review and release" });
    expect(within(panel).getByText("Not signed yet.")).toBeTruthy();
    expect(within(panel).queryByRole("button", { name: "Sign" })).toBeNull();
    expect(within(panel).getByRole("button", { name: "Batch record (PDF)" })).toBeTruthy();
  });

  it("an admin sees the chain checked above the history, and each row's mark", async () => {
    setSession({ name: "root", roles: ["admin"], open_mode: false, trace_url_template: "" });
    const calls = mockFetch(({ url }) => {
      if (url === "/api/workflows/w1") return { status: 200, body: finished([review], "awaiting approval") };
      if (url === "/api/workflows/w1/history?limit=1000") return { status: 200, body: chained };
      if (url === "/api/audit/verify?workflow_id=w1") return { status: 200, body: { ok: false, rows: 2, broken_at: { history_id: 12, workflow_id: "w1", reason: "prev_hash does not match row #11" } } };
      return undefined;
    });
    render(<WorkflowPage id="w1" task={null} />);
    expect((await screen.findByText(/Broken at row #12/)).closest("[data-chain-check]")!.textContent).toBe("✗ Broken at row #12: prev_hash does not match row #11");
    await waitFor(() => expect(document.querySelector('tr[data-history="12"]')!.getAttribute("data-chain")).toBe("broken"));
    expect(document.querySelector('tr[data-history="11"]')!.textContent).toContain("✓ verified");
    expect(calls.filter((c) => c.url.startsWith("/api/audit/verify"))).toHaveLength(1);
  });

  it("the list shows each finished workflow's release", async () => {
    mockFetch(({ url }) => (url.startsWith("/api/workflows?") ? { status: 200, body: { items: [finished([review], "awaiting approval"), { ...workflow("running", [task("a", "running")]), id: "w2", name: "other", release: "awaiting review" }], next_cursor: null } } : undefined));
    render(<WorkflowList query={new URLSearchParams()} />);
    const row = (await screen.findByRole("link", { name: "chromatography" })).closest("tr")!;
    expect(within(row).getByText("awaiting approval").getAttribute("data-release")).toBe("awaiting approval");
    const running = screen.getByRole("link", { name: "other" }).closest("tr")!;
    expect(within(running).queryByText("awaiting review")).toBeNull();
    expect(within(running).getByLabelText("not finished")).toBeTruthy();
  });
});
