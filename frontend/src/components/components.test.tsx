import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { chromatogramOutputs } from "../test/fixtures";
import { mockFetch } from "../test/fetchMock";
import { detectViews } from "../lib/shapes";
import { api, attempt } from "../api/client";
import { OutputViewer } from "./Charts";
import { Dag } from "./Dag";
import { ActionDialog } from "./Dialog";

afterEach(() => vi.unstubAllGlobals());

const post = (action: "cancel" | "pause", reason: string) =>
  attempt(() => api.POST(`/api/workflows/{workflow_id}/${action}`, { params: { path: { workflow_id: "w1" } }, body: { reason } }));

describe("Dag", () => {
  it("draws a node per task, coloured by state, selectable from the keyboard", async () => {
    const onSelect = vi.fn();
    render(
      <Dag
        tasks={[
          { name: "a", status: "succeeded", executor: "noop" },
          { name: "b", status: "running", executor: "python", depends_on: ["a"] },
          { name: "c", status: "pending", executor: "noop", depends_on: ["b"] },
        ]}
        onSelect={onSelect}
      />,
    );
    const b = screen.getByRole("button", { name: /task b: running/ });
    expect(b.getAttribute("data-status")).toBe("running");
    expect(b.getAttribute("class")).toContain("status-running");
    expect(screen.getAllByRole("button")).toHaveLength(3);
    b.focus();
    await userEvent.keyboard("{Enter}");
    expect(onSelect).toHaveBeenCalledWith("b");
  });
});

describe("charts", () => {
  it("labels each peak of a chromatogram at its retention time", () => {
    const [view] = detectViews(chromatogramOutputs());
    const { container } = render(<OutputViewer view={view} />);
    expect(screen.getByRole("img", { name: /Chromatogram at 254 nm: 2 peaks \(paracetamol, impurity-A\)/ })).toBeTruthy();
    const labels = [...container.querySelectorAll("[data-peak]")].map((g) => g.getAttribute("data-peak"));
    expect(labels).toEqual(["paracetamol", "impurity-A"]);
    expect(screen.getByText(/paracetamol 4\.2/)).toBeTruthy();
    expect(screen.getByRole("cell", { name: "15,234.6" })).toBeTruthy();
  });

  it("shows a mass reading large", () => {
    const [view] = detectViews({ mass_mg: 100.1234, stable: true, unit: "mg" });
    render(<OutputViewer view={view} />);
    expect(screen.getByLabelText("mass 100.1234 mg").textContent).toContain("100.12");
    expect(screen.getByText("stable")).toBeTruthy();
  });

  it("draws a time series with one line per array", () => {
    const [view] = detectViews({ time_min: [5, 10, 15, 30, 45], dissolved_percent: [21, 48, 69, 88, 95] });
    const { container } = render(<OutputViewer view={view} />);
    expect(screen.getByRole("img", { name: "dissolved_percent against time_min" })).toBeTruthy();
    expect(container.querySelectorAll("path.line")).toHaveLength(1);
  });
});

describe("ActionDialog", () => {
  it("asks for a reason, sends it, and shows a 409's message", async () => {
    const calls = mockFetch(({ url }) =>
      url.endsWith("/cancel") ? { status: 409, body: { detail: "the workflow already ended (succeeded)" } } : undefined,
    );
    const onClose = vi.fn();
    render(
      <ActionDialog
        request={{ title: "Cancel workflow", confirmLabel: "Cancel workflow", run: (reason) => post("cancel", reason) }}
        onClose={onClose}
      />,
    );
    const dialog = screen.getByRole("dialog", { name: "Cancel workflow" });
    const confirm = within(dialog).getByRole("button", { name: "Cancel workflow" });
    await userEvent.click(confirm);
    expect(within(dialog).getByText("A reason is required.")).toBeTruthy();
    expect(calls).toHaveLength(0);
    await userEvent.type(within(dialog).getByLabelText(/Reason/), "sample spilled");
    await userEvent.click(confirm);
    expect(await within(dialog).findByRole("alert")).toHaveProperty("textContent", "Refused (HTTP 409): the workflow already ended (succeeded)");
    expect(calls).toEqual([{ method: "POST", url: "/api/workflows/w1/cancel", body: { reason: "sample spilled" } }]);
    await userEvent.keyboard("{Escape}");
    expect(onClose).toHaveBeenCalled();
  });

  it("shows the detail of any refusal, e.g. a 405", async () => {
    mockFetch(() => ({ status: 405, body: { detail: "Method Not Allowed" } }));
    render(<ActionDialog request={{ title: "Pause", confirmLabel: "Pause", run: (r) => post("pause", r) }} onClose={() => {}} />);
    await userEvent.type(screen.getByLabelText(/Reason/), "lunch");
    await userEvent.click(screen.getByRole("button", { name: "Pause" }));
    expect((await screen.findByRole("alert")).textContent).toBe("Refused (HTTP 405): Method Not Allowed");
  });
});
