import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { set as setSession } from "../auth/session";
import { mockFetch } from "../test/fetchMock";
import { Inbox } from "./Inbox";

const SCHEMA = { type: "object", required: ["vials"], properties: { vials: { type: "integer", minimum: 0, title: "Vials loaded" } } };

function item(task_name: string, params: Record<string, unknown>) {
  return {
    workflow_id: `w-${task_name}`,
    workflow_name: `assay ${task_name}`,
    workflow_status: "running",
    labels: {},
    created_by: "user:olga",
    task_id: `t-${task_name}`,
    task_name,
    attempt: 1,
    params,
    since: "2026-11-26T10:00:00Z",
  };
}

function answered(task: string, status: string) {
  return { status: 200, body: { id: `w-${task}`, name: "x", status: "running", tasks: [{ name: task, status }] } };
}

afterEach(() => vi.unstubAllGlobals());

describe("Inbox", () => {
  beforeEach(() => setSession({ name: "ana", roles: ["operator"], open_mode: false, trace_url_template: "" }));

  it("lists the steps awaiting an operator and completes one from the form of its outputs_schema", async () => {
    const user = userEvent.setup();
    const posted: unknown[] = [];
    let waiting = [item("load", { instructions: "Load the 12 vials", outputs_schema: SCHEMA }), item("sign-off", {})];
    mockFetch(({ url, method, body }) => {
      if (url === "/api/inbox") return { status: 200, body: waiting };
      if (method === "POST" && url === "/api/workflows/w-load/tasks/load/complete") {
        posted.push(body);
        waiting = waiting.slice(1);
        return answered("load", "succeeded");
      }
      return undefined;
    });
    render(<Inbox />);
    const list = await screen.findByRole("list", { name: "Steps awaiting an operator" });
    expect(within(list).getAllByRole("listitem")).toHaveLength(2);
    expect(within(list).getByText("Load the 12 vials")).toBeTruthy();
    expect(within(list).getByText("Outputs asked for: vials")).toBeTruthy();
    await user.click(screen.getByRole("button", { name: "Complete load of assay load" }));
    const dialog = screen.getByRole("dialog", { name: "Complete task load" });
    // nothing sent without a reason and the required output
    await user.click(within(dialog).getByRole("button", { name: "Complete task" }));
    expect(within(dialog).getByText("A reason is required.")).toBeTruthy();
    expect(within(dialog).getByText("vials: is required")).toBeTruthy();
    await user.type(await within(dialog).findByLabelText(/Vials loaded/), "12");
    await user.type(within(dialog).getByLabelText(/Reason/), "rack loaded");
    await user.click(within(dialog).getByRole("button", { name: "Complete task" }));
    expect((await within(dialog).findByRole("status")).textContent).toBe("Accepted: task load is now succeeded.");
    expect(posted).toEqual([{ reason: "rack loaded", outputs: { vials: 12 } }]);
    await waitFor(() => expect(screen.getAllByRole("listitem")).toHaveLength(1));
  });

  it("completes a step without a schema with name/value rows, and shows the server's refusal", async () => {
    const user = userEvent.setup();
    mockFetch(({ url, method }) => {
      if (url === "/api/inbox") return { status: 200, body: [item("sign-off", { instructions: "Check the labels" })] };
      if (method === "POST") return { status: 409, body: { detail: "task 'sign-off' is succeeded; only a running manual task can be completed" } };
      return undefined;
    });
    render(<Inbox />);
    await user.click(await screen.findByRole("button", { name: "Complete sign-off of assay sign-off" }));
    const dialog = screen.getByRole("dialog", { name: "Complete task sign-off" });
    await user.type(within(dialog).getByLabelText("Name 1"), "labels_ok");
    await user.type(within(dialog).getByLabelText("Value 1"), "true");
    await user.click(within(dialog).getByRole("button", { name: "Edit as JSON" }));
    expect(JSON.parse((within(dialog).getByLabelText("Outputs (JSON object)") as HTMLTextAreaElement).value)).toEqual({ labels_ok: true });
    await user.type(within(dialog).getByLabelText(/Reason/), "checked");
    await user.click(within(dialog).getByRole("button", { name: "Complete task" }));
    expect((await within(dialog).findByRole("alert")).textContent).toMatch(/^Refused \(HTTP 409\): task 'sign-off' is succeeded/);
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  it("offers a viewer no Complete button", async () => {
    setSession({ name: "vic", roles: ["viewer"], open_mode: false, trace_url_template: "" });
    mockFetch(({ url }) => (url === "/api/inbox" ? { status: 200, body: [item("load", {})] } : undefined));
    render(<Inbox />);
    await screen.findByRole("list", { name: "Steps awaiting an operator" });
    expect(screen.queryByRole("button", { name: /^Complete/ })).toBeNull();
    expect(screen.getByRole("note").textContent).toMatch(/needs the operator role/);
  });

  it("says when nothing awaits", async () => {
    mockFetch(({ url }) => (url === "/api/inbox" ? { status: 200, body: [] } : undefined));
    render(<Inbox />);
    expect((await screen.findByText("Nothing awaits an operator.")).getAttribute("data-empty")).toBe("inbox");
  });
});
