import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { mockFetch, type Call } from "../test/fetchMock";
import { WORKFLOW_SCHEMA } from "../test/fixtures";
import { Builder } from "./Builder";

const BALANCE = {
  id: "balance-01",
  name: "Analytical balance",
  kind: "balance",
  capacity: 1,
  status: "online",
  endpoint: null,
  parameters_schema: { type: "object", properties: { target_mg: { type: "number", minimum: 0, title: "Target (mg)" } } },
  current: [],
  queue: [],
};

function server(onPost: (call: Call) => { status: number; body?: unknown }, withInstruments = true) {
  return mockFetch((call) => {
    if (call.url === "/api/schemas/workflow") return { status: 200, body: WORKFLOW_SCHEMA };
    if (call.url === "/api/instruments") return { status: 200, body: withInstruments ? [BALANCE] : [] };
    if (call.url === "/api/workflows" && call.method === "POST") return onPost(call);
    return undefined;
  });
}

const task = (n: number) => screen.getByRole("group", { name: new RegExp(`^Task ${n}`) });

async function threeTasks(user: ReturnType<typeof userEvent.setup>) {
  await user.type(screen.getByLabelText("Workflow name"), "three steps");
  await user.click(screen.getByRole("button", { name: "+ Add task" }));
  await user.click(screen.getByRole("button", { name: "+ Add task" }));
  // new tasks depend on the one before: task-1 <- task-2 <- task-3
  const params = within(task(2)).getByLabelText("Params (JSON object)");
  await user.selectOptions(within(task(2)).getByLabelText("Executor"), "python");
  await user.clear(params);
  await user.click(params);
  await user.paste('{"function": "laf_runner.library:echo", "value": 5}');
}

describe("Builder", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("shows a cycle next to the dependencies before anything is sent, then submits", async () => {
    const user = userEvent.setup();
    const posted: unknown[] = [];
    const calls = server((call) => {
      posted.push(call.body);
      return { status: 201, body: { id: "11111111-2222-3333-4444-555555555555" } };
    });
    render(<Builder />);
    await screen.findByText("1 problem: show"); // the empty name, once the schema is loaded
    await threeTasks(user);
    expect(within(task(3)).getByRole("checkbox", { name: "task-2" })).toHaveProperty("checked", true);

    // task-1 depends on task-3: a cycle
    await user.click(within(task(1)).getByRole("checkbox", { name: "task-3" }));
    const deps = within(task(1)).getByRole("group", { name: "Depends on" });
    expect(within(deps).getByText(/cycle: task-1 → task-3 → task-2 → task-1/)).toBeTruthy();
    expect(deps.getAttribute("aria-invalid")).toBe("true");
    await user.click(screen.getByRole("button", { name: "Submit workflow" }));
    expect(screen.getByRole("alert").textContent).toMatch(/3 problems to fix before sending/);
    expect(calls.filter((c) => c.method === "POST")).toHaveLength(0);

    await user.click(within(task(1)).getByRole("checkbox", { name: "task-3" }));
    expect(screen.queryByText(/cycle:/)).toBeNull();
    await user.click(screen.getByRole("button", { name: "Submit workflow" }));
    await waitFor(() => expect(posted).toHaveLength(1));
    expect(posted[0]).toEqual({
      name: "three steps",
      tasks: [
        { name: "task-1", executor: "noop", depends_on: [], params: { outputs: {} } },
        { name: "task-2", executor: "python", depends_on: ["task-1"], params: { function: "laf_runner.library:echo", value: 5 } },
        { name: "task-3", executor: "noop", depends_on: ["task-2"], params: { outputs: {} } },
      ],
    });
    await waitFor(() => expect(window.location.hash).toBe("#/workflows/11111111-2222-3333-4444-555555555555"));
  });

  it("shows the server's 422 next to the field it names", async () => {
    const user = userEvent.setup();
    server(() => ({
      status: 422,
      body: { detail: [{ loc: ["body", "tasks", 1], msg: "task 'task-2': params.function must be 'module:function'", type: "value_error" }] },
    }));
    render(<Builder />);
    await screen.findByText("1 problem: show");
    await threeTasks(user);
    await user.click(screen.getByRole("button", { name: "Submit workflow" }));
    const params = within(task(2)).getByLabelText("Params (JSON object)");
    await waitFor(() => expect(params.getAttribute("aria-invalid")).toBe("true"));
    const errorId = params.getAttribute("aria-describedby")!;
    expect(document.getElementById(errorId)!.textContent).toContain("params.function must be 'module:function'");
  });

  it("fills an instrument's parameters with a form generated from its schema", async () => {
    const user = userEvent.setup();
    server(() => ({ status: 201, body: { id: "x" } }));
    render(<Builder />);
    await screen.findByText("1 problem: show");
    const instrument = within(task(1)).getByLabelText("Instrument");
    await within(instrument).findByRole("option", { name: /Analytical balance/ });
    await user.selectOptions(instrument, "balance-01");
    const target = await within(task(1)).findByLabelText(/Target \(mg\)/);
    await user.type(target, "-3");
    expect(await within(task(1)).findAllByText(/must be >= 0/)).not.toHaveLength(0);
    expect(screen.getByRole("button", { name: /problems?: show/ })).toBeTruthy();
  });

  it("takes a pasted JSON document and validates it", async () => {
    const user = userEvent.setup();
    server(() => ({ status: 201, body: { id: "x" } }), false);
    render(<Builder />);
    await screen.findByText("1 problem: show");
    await user.click(screen.getByRole("button", { name: "JSON document" }));
    const editor = screen.getByLabelText("Workflow document (JSON)");
    await user.clear(editor);
    await user.click(editor);
    await user.paste('{"name": "pasted", "tasks": [{"name": "a", "executor": "noop", "depends_on": ["a"]}]}');
    await user.click(screen.getByRole("button", { name: /problems?: show/ }));
    expect(screen.getByRole("alert").textContent).toContain("task 'a' depends on itself");
    await user.click(screen.getByRole("button", { name: "Edit in the form" }));
    expect(within(task(1)).getByLabelText("Name")).toHaveProperty("value", "a");
    expect(screen.getByText("No instruments registered on this server.")).toBeTruthy();
  });
});
