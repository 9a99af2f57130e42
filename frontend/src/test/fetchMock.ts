import { vi } from "vitest";

export interface Call {
  method: string;
  url: string;
  body: unknown;
}

type Handler = (call: Call) => { status: number; body?: unknown } | undefined;

/** Replace fetch with `handler`; records every call. Unhandled URLs answer 404. */
export function mockFetch(handler: Handler) {
  const calls: Call[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : null;
    const url = new URL(request ? request.url : String(input), "http://localhost");
    const method = (init?.method ?? request?.method ?? "GET").toUpperCase();
    let text: string | undefined = typeof init?.body === "string" ? init.body : undefined;
    if (request && text === undefined && method !== "GET") text = await request.clone().text();
    const call = { method, url: url.pathname + url.search, body: text ? JSON.parse(text) : undefined };
    calls.push(call);
    const answer = handler(call) ?? { status: 404, body: { detail: "Not Found" } };
    return new Response(answer.body === undefined ? null : JSON.stringify(answer.body), {
      status: answer.status,
      headers: { "Content-Type": "application/json" },
    });
  });
  vi.stubGlobal("fetch", fn);
  return calls;
}
