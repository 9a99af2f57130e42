import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { set as setSession } from "../auth/session";
import { instrumentChange } from "../components/InstrumentEditDialog";
import { mockFetch } from "../test/fetchMock";
import { Lab } from "./Lab";

const T0 = "2026-11-26T10:00:00Z";
const balance = { id: "balance-01", name: "Balance", kind: "balance", capacity: 1, status: "online", endpoint: null, parameters_schema: {}, calibration_due: "2020-01-31", created_at: T0, updated_at: T0, current: [], queue: [] };
const hplc = { ...balance, id: "hplc-01", name: "HPLC", kind: "hplc", capacity: 2, calibration_due: "2999-06-30" };
const runs = (id: string, hours: number) => ({
  instrument_id: id,
  hours,
  since: T0,
  capacity: 1,
  busy_s: 1440,
  utilisation: 0.05,
  runs: [{ workflow_id: "w1", workflow_name: "assay", task_name: "weigh", attempt: 1, status: "succeeded", runner_id: "r1", started_at: T0, finished_at: "2026-11-26T10:24:00Z" }],
});

afterEach(() => vi.unstubAllGlobals());

function serve(patched: unknown[] = [], runsAsked: string[] = []) {
  return mockFetch(({ url, method, body }) => {
    if (url === "/api/instruments") return { status: 200, body: patched.length ? [{ ...balance, capacity: 3, calibration_due: "2027-01-31" }, hplc] : [balance, hplc] };
    if (url === "/api/runners") return { status: 200, body: [] };
    const m = /^\/api\/instruments\/([^/]+)\/runs\?hours=(\d+)/.exec(url);
    if (m) {
      runsAsked.push(url);
      return { status: 200, body: runs(m[1], Number(m[2])) };
    }
    if (method === "PATCH" && url === "/api/instruments/balance-01") {
      patched.push(body);
      return { status: 200, body: { ...balance, capacity: 3, calibration_due: "2027-01-31" } };
    }
    return undefined;
  });
}

describe("the lab board", () => {
  it("shows each instrument's calibration date (red when past), utilisation and recent runs", async () => {
    setSession({ name: "vic", roles: ["viewer"], open_mode: false, trace_url_template: "" });
    const asked: string[] = [];
    serve([], asked);
    render(<Lab />);
    const card = (await screen.findByRole("heading", { name: "Balance" })).closest("li")!;
    const due = within(card).getByText(/^Calibration due 2020-01-31/);
    expect(due.getAttribute("data-calibration")).toBe("overdue");
    expect(due.className).toContain("calibration-overdue");
    const other = screen.getByRole("heading", { name: "HPLC" }).closest("li")!;
    expect(within(other).getByText(/^Calibration due 2999-06-30/).getAttribute("data-calibration")).toBe("ok");
    expect((await within(card).findByRole("meter", { name: "Utilisation over the last 8 hours" })).getAttribute("aria-valuenow")).toBe("5");
    expect(within(card).getByText(/^5 % over the last 8 hours \(24 min 00 s in use\)/)).toBeTruthy();
    expect(within(card).getByRole("link", { name: "weigh · assay" }).getAttribute("href")).toBe("#/workflows/w1?task=weigh");
    expect(screen.queryByRole("button", { name: /^Edit/ })).toBeNull(); // a viewer edits nothing
    await userEvent.setup().selectOptions(screen.getByLabelText("Utilisation over the last"), "24");
    await waitFor(() => expect(asked.some((u) => u.includes("hours=24"))).toBe(true));
  });

  it("lets an admin change capacity and calibration date with a reason; focus returns to Edit", async () => {
    setSession({ name: "ada", roles: ["admin"], open_mode: false, trace_url_template: "" });
    const patched: unknown[] = [];
    serve(patched);
    const user = userEvent.setup();
    render(<Lab />);
    const edit = await screen.findByRole("button", { name: "Edit Balance" });
    await user.click(edit);
    const dialog = screen.getByRole("dialog", { name: "Edit Balance" });
    await user.clear(within(dialog).getByLabelText(/Capacity/));
    await user.type(within(dialog).getByLabelText(/Capacity/), "3");
    await user.clear(within(dialog).getByLabelText("Calibration due"));
    await user.type(within(dialog).getByLabelText("Calibration due"), "2027-01-31");
    await user.click(within(dialog).getByRole("button", { name: "Save" }));
    expect(within(dialog).getByText("A reason is required.")).toBeTruthy();
    expect(patched).toEqual([]);
    await user.type(within(dialog).getByLabelText(/Reason/), "calibrated, second pan fitted");
    await user.click(within(dialog).getByRole("button", { name: "Save" }));
    expect((await within(dialog).findByRole("status")).textContent).toBe("Saved: Balance is online, 3 slots, calibration due 2027-01-31.");
    expect(patched).toEqual([{ capacity: 3, calibration_due: "2027-01-31", reason: "calibrated, second pan fitted" }]);
    await user.click(within(dialog).getByRole("button", { name: "Close" }));
    await waitFor(() => expect(document.activeElement).toBe(screen.getByRole("button", { name: "Edit Balance" })));
    await act(async () => {});
  });

  it("sends only what changed, and null to clear the calibration date", () => {
    const i = balance as Parameters<typeof instrumentChange>[0];
    expect(instrumentChange(i, { status: "online", capacity: "1", calibration_due: "2020-01-31" })).toEqual({});
    expect(instrumentChange(i, { status: "maintenance", capacity: "1", calibration_due: "" })).toEqual({ status: "maintenance", calibration_due: null });
  });
});
