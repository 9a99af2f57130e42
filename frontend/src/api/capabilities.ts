// What this API server offers, read once from its /openapi.json, so the UI does
// not call endpoints that a server does not have yet (issues #4/#5 add them).
let cached: Promise<Set<string>> | null = null;

export function loadCapabilities(): Promise<Set<string>> {
  if (!cached) {
    cached = fetch("/openapi.json")
      .then((r) => (r.ok ? r.json() : { paths: {} }))
      .then((doc: { paths?: Record<string, Record<string, unknown>> }) => {
        const set = new Set<string>();
        for (const [path, ops] of Object.entries(doc.paths ?? {}))
          for (const method of Object.keys(ops ?? {})) set.add(`${method.toUpperCase()} ${path}`);
        return set;
      })
      .catch(() => new Set<string>());
  }
  return cached;
}

export function resetCapabilities(): void {
  cached = null;
}

/** Whether the server documents `METHOD /path` (path as in OpenAPI, e.g. /api/instruments/{id}). */
export async function offers(method: string, path: string): Promise<boolean> {
  return (await loadCapabilities()).has(`${method.toUpperCase()} ${path}`);
}

/** Whether the server documents some `METHOD` path matching `pattern`. */
export async function offersLike(method: string, pattern: RegExp): Promise<boolean> {
  for (const entry of await loadCapabilities()) {
    const [m, path] = entry.split(" ", 2);
    if (m === method.toUpperCase() && pattern.test(path)) return true;
  }
  return false;
}
