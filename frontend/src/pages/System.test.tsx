import { render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { set as setSession } from "../auth/session";
import { traceUrl } from "../lib/trace";
import { mockFetch } from "../test/fetchMock";
import { REFRESH_MS, System } from "./System";

const API = { name: "api", url: "/readyz", ready: true, detail: "ready" };

function answer(runnerReady: boolean, backlog: number) {
  return {
    services: [
      API,
      { name: "listener", url: "http://127.0.0.1:9101/readyz", ready: true, detail: "ready" },
      { name: "runner", url: "http://127.0.0.1:9103/readyz", ready: runnerReady, detail: runnerReady ? "ready" : "unreachable (connection refused or no route)" },
    ],
    outbox: { backlog, oldest_age_s: backlog ? 75 : 0 },
    dead_letters: { count: 2, latest_at: "2026-11-26T10:00:00Z" },
    trace_url_template: "http://127.0.0.1:16686/trace/{trace_id}",
  };
}

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe("System", () => {
  beforeEach(() => setSession({ name: "ada", roles: ["admin"], open_mode: false, trace_url_template: "" }));

  it("shows each service's readiness, the outbox and the dead letters, and reads them again", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    let reads = 0;
    mockFetch(({ url }) => (url === "/api/system" ? { status: 200, body: reads++ === 0 ? answer(false, 3) : answer(true, 0) } : undefined));
    render(<System />);
    const services = await screen.findByRole("list", { name: "Services" });
    const runner = within(services).getByText("runner").closest("li")!;
    expect(within(runner).getByText("not ready").getAttribute("data-ready")).toBe("false");
    expect(within(runner).getByText(/unreachable/)).toBeTruthy();
    expect(within(services).getAllByText("ready")).toHaveLength(2);
    expect(screen.getByRole("status").textContent).toBe("1 service not ready");
    const outbox = screen.getByRole("region", { name: "Outbox" });
    expect(within(outbox).getByText("3 events")).toBeTruthy();
    expect(within(outbox).getByText("1 min 15 s")).toBeTruthy();
    const dead = screen.getByRole("region", { name: "Dead letters" });
    expect(within(dead).getByText("2")).toBeTruthy();
    expect(within(dead).getByRole("link", { name: /See them/ }).getAttribute("href")).toBe("/api/admin/dead-letters");

    vi.advanceTimersByTime(REFRESH_MS);
    await waitFor(() => expect(screen.getByRole("status").textContent).toBe("All services ready"));
    expect(within(screen.getByRole("region", { name: "Outbox" })).getByText("0 events")).toBeTruthy();
    expect(screen.queryByText("not ready")).toBeNull();
  });

  it("says when it cannot read the state, and that no worker is probed", async () => {
    let reads = 0;
    mockFetch(({ url }) =>
      url === "/api/system"
        ? reads++ === 0
          ? { status: 503, body: { detail: "the database is unavailable; try again" } }
          : { status: 200, body: { ...answer(true, 0), services: [API], trace_url_template: "" } }
        : undefined,
    );
    vi.useFakeTimers({ shouldAdvanceTime: true });
    render(<System />);
    expect((await screen.findByRole("alert")).textContent).toBe("Could not read the system's state: the database is unavailable; try again");
    vi.advanceTimersByTime(REFRESH_MS);
    expect(await screen.findByText(/No worker probes configured/)).toBeTruthy();
    expect(screen.queryByRole("alert")).toBeNull();
    expect(screen.getByText("No trace viewer configured (LAF_TRACE_URL_TEMPLATE).")).toBeTruthy();
  });
});

describe("traceUrl", () => {
  it("fills in the trace id, and makes no link without a web address template", () => {
    expect(traceUrl("http://jaeger:16686/trace/{trace_id}", "ab12")).toBe("http://jaeger:16686/trace/ab12");
    expect(traceUrl("", "ab12")).toBeNull();
    expect(traceUrl(undefined, "ab12")).toBeNull();
    expect(traceUrl("javascript:alert({trace_id})", "ab12")).toBeNull();
    expect(traceUrl("http://jaeger:16686/search", "ab12")).toBeNull();
  });
});
