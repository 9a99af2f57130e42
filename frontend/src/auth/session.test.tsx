import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { App } from "../App";
import { mockFetch } from "../test/fetchMock";
import { holds, set } from "./session";

afterEach(() => {
  vi.unstubAllGlobals();
  set(null);
});

describe("roles", () => {
  it("include the roles below them, as the API's do", () => {
    const user = (roles: ("viewer" | "operator" | "admin" | "runner")[]) => ({ name: "u", roles, open_mode: false, trace_url_template: "" });
    expect(holds(user(["admin"]), "operator")).toBe(true);
    expect(holds(user(["operator"]), "viewer")).toBe(true);
    expect(holds(user(["viewer"]), "operator")).toBe(false);
    expect(holds(user(["runner"]), "viewer")).toBe(false);
    expect(holds(null, "viewer")).toBe(false);
  });
});

describe("logging in", () => {
  it("shows the form until the API accepts the password, then who is logged in", async () => {
    let loggedIn = false;
    const calls = mockFetch(({ method, url, body }) => {
      if (url === "/api/auth/me") return loggedIn ? { status: 200, body: { name: "ana", roles: ["viewer"] } } : { status: 401, body: { detail: "log in first" } };
      if (method === "POST" && url === "/api/auth/login") {
        const { password } = body as { password: string };
        if (password !== "right one") return { status: 401, body: { detail: "wrong" } };
        loggedIn = true;
        return { status: 200, body: { token: "laf_x", expires_at: "2026-12-02T18:00:00Z", user: { name: "ana", roles: ["viewer"] } } };
      }
      if (url.startsWith("/api/workflows")) return { status: 200, body: { items: [], next_cursor: null } };
      return { status: 200, body: [] };
    });
    set(null);
    const user = userEvent.setup();
    render(<App />);
    await user.type(await screen.findByLabelText("User name"), "ana");
    await user.type(screen.getByLabelText("Password"), "wrong one");
    await user.click(screen.getByRole("button", { name: "Log in" }));
    expect((await screen.findByRole("alert")).textContent).toMatch(/Wrong user name or password/);
    await user.type(screen.getByLabelText("Password"), "right one");
    await user.click(screen.getByRole("button", { name: "Log in" }));
    expect((await screen.findByLabelText("Logged in")).textContent).toContain("ana (viewer)");
    // a viewer is offered no way to submit
    expect(screen.queryByRole("link", { name: "New workflow" })).toBeNull();
    expect(calls.filter((c) => c.url === "/api/auth/login")).toHaveLength(2);
  });
});
