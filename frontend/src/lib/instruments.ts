// The instrument registry (GET /api/instruments): each instrument with the tasks
// on it now and its queue, as the API documents them.
import { api, attempt } from "../api/client";
import type { Instrument, InstrumentTask } from "../api/types";

export type Registry = { instruments: Instrument[]; error?: string };

export async function loadRegistry(): Promise<Registry> {
  const res = await attempt(() => api.GET("/api/instruments"));
  return res.ok ? { instruments: res.data } : { instruments: [], error: res.error.message };
}

/** The schema of an instrument's params for a form, or null: a schema that names no
 * parameter ({"type": "object"}) gives no form, the JSON editor serves better. */
export function paramsFormSchema(instrument: Instrument | undefined): Record<string, unknown> | null {
  const schema = instrument?.parameters_schema;
  const props = schema?.properties;
  return schema && props && typeof props === "object" && Object.keys(props).length > 0 ? schema : null;
}

/** Since when a task has been on its instrument (or in line for it). */
export const taskSince = (t: InstrumentTask): string | null => t.started_at ?? t.queued_at ?? t.ready_at;
