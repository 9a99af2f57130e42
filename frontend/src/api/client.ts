// The API client: openapi-fetch typed by the generated `paths`, plus `send` for
// operator actions whose endpoints the generated document may not have yet.
import createClient from "openapi-fetch";
import { operatorHeaders } from "./operator";
import type { paths } from "./schema";

export const api = createClient<paths>({
  baseUrl: typeof window !== "undefined" ? window.location.origin : "http://localhost",
  // resolved per call, so tests can stub the global
  fetch: (request: Request) => globalThis.fetch(request),
});
api.use({
  onRequest({ request }) {
    for (const [k, v] of Object.entries(operatorHeaders())) request.headers.set(k, v);
    return request;
  },
});

/** A 4xx/5xx answer, with the server's own words. */
export interface ApiError {
  status: number;
  message: string;
  /** FastAPI 422 details: [{loc, msg, type}] */
  details?: { loc?: (string | number)[]; msg: string; type?: string }[];
}

export type Result<T> = { ok: true; status: number; data: T } | { ok: false; error: ApiError };

/** The message of an error body: `{"detail": "..."}` or `{"detail": [{msg}]}`. */
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
  if (status === 404 || status === 405)
    return { status, message: `this server does not offer that yet (HTTP ${status})` };
  return { status, message: fallback || `HTTP ${status}` };
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text.slice(0, 500) };
  }
}

/** A JSON request to any API path; never throws. */
export async function send<T = unknown>(
  method: "GET" | "POST" | "PATCH",
  path: string,
  body?: unknown,
): Promise<Result<T>> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: {
        Accept: "application/json",
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...(method === "GET" ? {} : operatorHeaders()),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    return { ok: false, error: { status: 0, message: `the API is unreachable (${String(err)})` } };
  }
  const data = await readBody(response);
  if (!response.ok) return { ok: false, error: errorFrom(response.status, data, response.statusText) };
  return { ok: true, status: response.status, data: data as T };
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
