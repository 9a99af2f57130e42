// The instrument registry of issue #4, read tolerantly: a server without it
// (no GET /api/instruments in its OpenAPI document) simply has no instruments.
import { offers, offersLike } from "../api/capabilities";
import { send } from "../api/client";
import type { Instrument } from "../api/types";

export interface TaskRef {
  workflow_id?: string;
  workflow_name?: string;
  workflow_status?: string;
  task_id?: string;
  task_name: string;
  status?: string;
  since?: string | null;
}

export interface LabInstrument {
  id: string;
  name: string;
  kind: string;
  status: string;
  capacity: number;
  endpoint?: string | null;
  parametersSchema: Record<string, unknown> | null;
  current: TaskRef[];
  queue: TaskRef[];
  raw: Instrument;
}

type Json = Record<string, unknown>;

function taskRef(raw: unknown): TaskRef | null {
  if (typeof raw === "string") return { task_name: raw };
  if (!raw || typeof raw !== "object") return null;
  const r = raw as Json;
  const str = (...keys: string[]) => {
    for (const k of keys) if (typeof r[k] === "string") return r[k] as string;
    return undefined;
  };
  return {
    workflow_id: str("workflow_id"),
    workflow_name: str("workflow_name", "workflow"),
    workflow_status: str("workflow_status"),
    task_id: str("task_id", "id"),
    task_name: str("task_name", "name", "task") ?? "?",
    status: str("status"),
    since: str("started_at", "queued_at", "ready_at", "since") ?? null,
  };
}

const list = (v: unknown) => (Array.isArray(v) ? v.map(taskRef).filter((x): x is TaskRef => !!x) : []);

export function normaliseInstrument(raw: Instrument): LabInstrument {
  const r = raw as unknown as Json;
  const schema = r.parameters_schema;
  // a schema that names no parameter ({"type": "object"}) gives no form: the JSON editor serves better
  const props = schema && typeof schema === "object" ? (schema as Json).properties : null;
  const usable = props && typeof props === "object" && Object.keys(props as Json).length > 0 ? (schema as Json) : null;
  const current = list(r.current_tasks ?? r.current ?? r.running ?? r.holders ?? (r.current_task ? [r.current_task] : []));
  const queue = list(r.queue ?? r.queued ?? r.waiting ?? []);
  return {
    id: String(r.id),
    name: typeof r.name === "string" ? r.name : String(r.id),
    kind: typeof r.kind === "string" ? r.kind : "instrument",
    status: typeof r.status === "string" ? r.status : "unknown",
    capacity: typeof r.capacity === "number" ? r.capacity : 1,
    endpoint: typeof r.endpoint === "string" ? r.endpoint : null,
    parametersSchema: usable,
    current,
    queue,
    raw,
  };
}

export type Registry = { available: false } | { available: true; instruments: LabInstrument[]; error?: string };

/** The registry with each instrument's current tasks and queue (from the detail view when the list lacks them). */
export async function loadRegistry(withDetail = false): Promise<Registry> {
  if (!(await offers("GET", "/api/instruments"))) return { available: false };
  const res = await send<unknown>("GET", "/api/instruments");
  if (!res.ok) {
    if (res.error.status === 404 || res.error.status === 405) return { available: false };
    return { available: true, instruments: [], error: res.error.message };
  }
  const rawList = Array.isArray(res.data) ? res.data : ((res.data as Json)?.items as unknown[]) ?? [];
  let instruments = (rawList as Instrument[]).map(normaliseInstrument);
  if (withDetail && (await offersLike("GET", /^\/api\/instruments\/\{[^}]+\}$/))) {
    const hasQueues = (rawList as Json[]).some((r) => "queue" in r || "current_tasks" in r || "current" in r || "running" in r);
    if (!hasQueues)
      instruments = await Promise.all(
        instruments.map(async (i) => {
          const d = await send<Instrument>("GET", `/api/instruments/${encodeURIComponent(i.id)}`);
          return d.ok ? normaliseInstrument(d.data) : i;
        }),
      );
  }
  return { available: true, instruments };
}
