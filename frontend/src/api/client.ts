// The API client: openapi-fetch typed by the generated `paths`; `attempt` turns
// each answer (or a network failure) into a Result with the server's own words.
import createClient from "openapi-fetch";
import type { paths } from "./schema";

export const api = createClient<paths>({
  baseUrl: typeof window !== "undefined" ? window.location.origin : "http://localhost",
  // resolved per call, so tests can stub the global
  fetch: (request: Request) => globalThis.fetch(request),
});
// Told of a 401 on an ordinary call (the session ended): set by auth/session.ts.
let onUnauthorized: () => void = () => {};
export function whenUnauthorized(handler: () => void): void {
  onUnauthorized = handler;
}
api.use({
  onRequest({ request }) {
    // The session cookie changes nothing without it (the API's CSRF rule).
    request.headers.set("X-Requested-With", "laf");
    return request;
  },
  onResponse({ request, response }) {
    noteAnswer(request.url, response.status);
    return response;
  },
});

/**
 * Tell the session of a 401, unless it answers a password: a login, or a
 * signature (which asks for the password again, so its 401 means a wrong one).
 */
export function noteAnswer(url: string, status: number): void {
  const path = new URL(url, "http://localhost").pathname;
  if (status === 401 && !path.startsWith("/api/auth/") && !path.endsWith("/signatures")) onUnauthorized();
}

/** A 4xx/5xx answer, with the server's own words. */
export interface ApiError {
  status: number;
  message: string;
  /** FastAPI 422 details: [{loc, msg, type}] */
  details?: { loc?: (string | number)[]; msg: string; type?: string }[];
}

export type Result<T> = { ok: true; status: number; data: T } | { ok: false; error: ApiError };

/** The message of an error body: `{"detail": "..."}`, `{"detail": [{msg}]}` or plain text. */
export function errorFrom(status: number, body: unknown, fallback = ""): ApiError {
  const detail = (body as { detail?: unknown } | null)?.detail;
  if (typeof detail === "string") return { status, message: detail };
  if (Array.isArray(detail)) {
    const details = detail.map((d) => ({
      loc: Array.isArray(d?.loc) ? d.loc : undefined,
      msg: String(d?.msg ?? JSON.stringify(d)),
      type: d?.type,
    }));
    return { status, message: details.map((d) => d.msg).join("; "), details };
  }
  if (typeof body === "string" && body.trim()) return { status, message: body.slice(0, 500) };
  return { status, message: fallback || `HTTP ${status}` };
}

/** Turn an openapi-fetch answer into a Result. */
export function result<T>(answer: { data?: T; error?: unknown; response: Response }): Result<T> {
  if (answer.response.ok && answer.data !== undefined) return { ok: true, status: answer.response.status, data: answer.data };
  return { ok: false, error: errorFrom(answer.response.status, answer.error, answer.response.statusText) };
}

/** Wrap a call that may throw (network down) into a Result. */
export async function attempt<T>(call: () => Promise<{ data?: T; error?: unknown; response: Response }>): Promise<Result<T>> {
  try {
    return result(await call());
  } catch (err) {
    return { ok: false, error: { status: 0, message: `the API is unreachable (${String(err)})` } };
  }
}
