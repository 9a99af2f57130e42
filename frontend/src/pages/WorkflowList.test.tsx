import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { set as setSession } from "../auth/session";
import { mockFetch } from "../test/fetchMock";
import { WorkflowList } from "./WorkflowList";

const T0 = "2026-11-26T10:00:00Z";
const wf = (id: string, status: string, created_by = "user:olga") => ({
  id,
  name: `assay ${id}`,
  description: "",
  labels: {},
  status,
  created_by,
  created_at: T0,
  started_at: T0,
  finished_at: null,
  progress: { total: 1, unfinished: status === "running" ? 1 : 0, failed: status === "failed" ? 1 : 0 },
  tasks: [{ name: "weigh", status: status === "failed" ? "failed" : "running", instrument: id === "b" ? "balance-01" : null }],
  release: "awaiting review",
});

beforeEach(() => {
  setSession({ name: "olga", roles: ["operator"], open_mode: false, trace_url_template: "" });
  window.location.hash = "#/workflows";
});
afterEach(() => vi.unstubAllGlobals());

describe("the list's bulk actions and filters", () => {
  it("cancels the selected workflows with one reason and reports each", async () => {
    const user = userEvent.setup();
    const cancelled: unknown[] = [];
    mockFetch(({ url, method, body }) => {
      if (url.startsWith("/api/workflows?")) return { status: 200, body: { items: [wf("a", "running"), wf("b", "running"), wf("c", "succeeded")], next_cursor: null } };
      if (url === "/api/instruments") return { status: 200, body: [] };
      const m = /^\/api\/workflows\/(\w)\/cancel$/.exec(url);
      if (method === "POST" && m) {
        cancelled.push([m[1], body]);
        return m[1] === "b" ? { status: 409, body: { detail: "it is succeeded" } } : { status: 200, body: { ...wf(m[1], "cancelled") } };
      }
      return undefined;
    });
    render(<WorkflowList query={new URLSearchParams()} />);
    await screen.findByRole("link", { name: "assay a" });
    const cancel = screen.getByRole("button", { name: "Cancel selected…" });
    expect(cancel).toHaveProperty("disabled", true);
    await user.click(screen.getByRole("checkbox", { name: "Select assay c" }));
    expect(cancel).toHaveProperty("disabled", true); // a finished workflow cannot be cancelled
    expect(screen.getByRole("button", { name: "Retry failed…" })).toHaveProperty("disabled", true);
    await user.click(screen.getByRole("checkbox", { name: "Select all shown" }));
    expect(screen.getByText("3 selected")).toBeTruthy();
    await user.click(cancel);
    const dialog = screen.getByRole("dialog", { name: "Cancel 2 workflows" });
    expect(within(dialog).getByText(/1 selected workflow already finished and is left alone/)).toBeTruthy();
    await user.type(within(dialog).getByLabelText(/^Reason/), "wrong batch");
    await user.click(within(dialog).getByRole("button", { name: "Cancel 2 workflows" }));
    expect((await within(dialog).findByRole("status")).textContent).toBe("1 of 2 done; 1 refused.");
    expect(cancelled).toEqual([
      ["a", { reason: "wrong batch" }],
      ["b", { reason: "wrong batch" }],
    ]);
    const rows = within(dialog).getAllByRole("listitem");
    expect(rows.map((r) => r.getAttribute("data-bulk-result"))).toEqual(["ok", "error"]);
    expect(rows[1].textContent).toContain("refused (HTTP 409): it is succeeded");
  });

  it("filters by submitter and instrument on the loaded page, the filter in the URL", async () => {
    const user = userEvent.setup();
    mockFetch(({ url }) => {
      if (url.startsWith("/api/workflows?")) return { status: 200, body: { items: [wf("a", "running"), wf("b", "failed", "user:ben")], next_cursor: null } };
      if (url === "/api/instruments") return { status: 200, body: [{ id: "balance-01" }] };
      return undefined;
    });
    const { rerender } = render(<WorkflowList query={new URLSearchParams()} />);
    await screen.findByRole("link", { name: "assay a" });
    await user.selectOptions(screen.getByLabelText("Submitter"), "user:ben");
    await waitFor(() => expect(window.location.hash).toBe("#/workflows?submitter=user%3Aben"));
    rerender(<WorkflowList query={new URLSearchParams("submitter=user:ben&instrument=balance-01&sort=name")} />);
    await waitFor(() => expect(screen.queryByRole("link", { name: "assay a" })).toBeNull());
    expect(screen.getByRole("link", { name: "assay b" })).toBeTruthy();
    expect(screen.getByText(/apply to the 2 workflows loaded/)).toBeTruthy();
    expect(screen.getByLabelText("Instrument")).toHaveProperty("value", "balance-01");
    expect(screen.getByLabelText("Sort")).toHaveProperty("value", "name");
  });
});
