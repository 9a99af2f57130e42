// Who is logged in. The session token lives in an HttpOnly cookie the API sets at
// login, so no script (ours included) can read it; the app only knows the user's
// name and roles, from GET /api/auth/me. Every request carries X-Requested-With,
// without which the API refuses a change made with the cookie (CSRF).
import { useSyncExternalStore } from "react";
import { api, attempt, whenUnauthorized, type Result } from "../api/client";
import type { components } from "../api/schema";

export type Role = components["schemas"]["Role"];
export type User = components["schemas"]["Me"];

/** A role includes those below it (laf_core.contracts.roles): admin ⊇ operator, reviewer ⊇ viewer. */
const INCLUDES: Record<Role, Role[]> = {
  viewer: ["viewer"],
  operator: ["operator", "viewer"],
  reviewer: ["reviewer", "viewer"],
  admin: ["admin", "operator", "reviewer", "viewer"],
  runner: ["runner"],
};

export function holds(user: User | null | undefined, role: Role): boolean {
  return !!user && user.roles.some((r) => INCLUDES[r]?.includes(role));
}

/** undefined: not asked yet; null: nobody is logged in (or the session ended). */
let current: User | null | undefined;
let notice = "";
const listeners = new Set<() => void>();

/** Who is logged in now (the login and logout set it; component tests too). */
export function set(user: User | null, why = ""): void {
  current = user;
  notice = why;
  listeners.forEach((listener) => listener());
}

export function useSession(): { user: User | null | undefined; notice: string } {
  const user = useSyncExternalStore(
    (listener) => (listeners.add(listener), () => listeners.delete(listener)),
    () => current,
  );
  return { user, notice };
}

/** The user can do what `role` allows (the page hides what it cannot). */
export function useCan(role: Role): boolean {
  return holds(useSession().user, role);
}

export async function loadSession(): Promise<void> {
  const me = await attempt(() => api.GET("/api/auth/me"));
  if (me.ok) set(me.data);
  else set(null, me.error.status === 401 || me.error.status === 403 ? "" : me.error.message);
}

export async function logIn(username: string, password: string): Promise<Result<unknown>> {
  const answer = await attempt(() => api.POST("/api/auth/login", { body: { username, password } }));
  if (answer.ok) set(answer.data.user);
  return answer;
}

export async function logOut(): Promise<void> {
  await attempt(() => api.POST("/api/auth/logout"));
  set(null, "You are logged out.");
}

/** A 401 on an ordinary request: the session expired or was revoked. */
export function sessionEnded(): void {
  if (current) set(null, "Your session ended; log in again.");
}
whenUnauthorized(sessionEnded);
