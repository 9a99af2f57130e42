// The builder's editable model and its conversion to/from a workflow document.
import { EXECUTORS, isOneOf, type Executor } from "../api/types";

export interface DraftTask {
  key: string;
  name: string;
  executor: string;
  instrument: string;
  depends_on: string[];
  /** params as last parsed (or as the instrument form left them) */
  params: Record<string, unknown>;
  /** params as typed in the JSON editor */
  paramsText: string;
  paramsError: string | null;
  timeout_s: string;
  customRetry: boolean;
  retry: { max_attempts: string; backoff_s: string; max_backoff_s: string };
}

export interface Draft {
  name: string;
  description: string;
  labelsText: string;
  tasks: DraftTask[];
}

let counter = 0;
export const newKey = () => `t${++counter}-${Math.random().toString(36).slice(2, 7)}`;

/** Params a new task of each executor starts with (every executor named, so a new one must be given its own). */
const PARAMS_TEMPLATES: Record<Executor, () => Record<string, unknown>> = {
  noop: () => ({ outputs: {} }),
  python: () => ({ function: "laf_runner.library:echo" }),
  local: () => ({ command: ["sh", "-c", "echo hello"] }),
  http: () => ({}),
  kubernetes: () => ({ image: "", args: [] }),
  manual: () => ({ instructions: "" }),
};

export function paramsTemplate(executor: string): Record<string, unknown> {
  return isOneOf(EXECUTORS, executor) ? PARAMS_TEMPLATES[executor]() : {};
}

export const pretty = (v: unknown) => JSON.stringify(v, null, 2);

export function newTask(name: string, executor = "noop", depends_on: string[] = []): DraftTask {
  const params = paramsTemplate(executor);
  return {
    key: newKey(),
    name,
    executor,
    instrument: "",
    depends_on,
    params,
    paramsText: pretty(params),
    paramsError: null,
    timeout_s: "",
    customRetry: false,
    retry: { max_attempts: "3", backoff_s: "1", max_backoff_s: "60" },
  };
}

export function emptyDraft(): Draft {
  return { name: "", description: "", labelsText: "", tasks: [newTask("task-1")] };
}

export function parseParams(text: string): { params: Record<string, unknown> | null; error: string | null } {
  if (!text.trim()) return { params: {}, error: null };
  try {
    const v = JSON.parse(text);
    if (typeof v !== "object" || v === null || Array.isArray(v)) return { params: null, error: "params must be a JSON object ({…})" };
    return { params: v, error: null };
  } catch (err) {
    return { params: null, error: `not valid JSON: ${(err as Error).message}` };
  }
}

export function parseLabels(text: string): { labels: Record<string, string>; errors: string[] } {
  const labels: Record<string, string> = {};
  const errors: string[] = [];
  for (const raw of text.split(/[\n,]/)) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.indexOf("=");
    if (at <= 0) errors.push(`'${line}' must look like key=value`);
    else labels[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return { labels, errors };
}

const num = (s: string) => (s.trim() === "" ? undefined : Number(s));

/** The document the builder would send. */
export function toDocument(draft: Draft): Record<string, unknown> {
  const { labels } = parseLabels(draft.labelsText);
  const doc: Record<string, unknown> = { name: draft.name, tasks: [] };
  if (draft.description.trim()) doc.description = draft.description;
  if (Object.keys(labels).length) doc.labels = labels;
  doc.tasks = draft.tasks.map((t) => {
    const task: Record<string, unknown> = { name: t.name, executor: t.executor };
    if (t.instrument) task.instrument = t.instrument;
    task.depends_on = t.depends_on;
    task.params = t.params;
    const timeout = num(t.timeout_s);
    if (timeout !== undefined) task.timeout_s = timeout;
    if (t.customRetry)
      task.retry = { max_attempts: num(t.retry.max_attempts), backoff_s: num(t.retry.backoff_s), max_backoff_s: num(t.retry.max_backoff_s) };
    return task;
  });
  return doc;
}

/** A pasted or uploaded document as a draft (unknown fields are dropped; validation shows them first). */
export function fromDocument(doc: unknown): Draft {
  const d = (doc ?? {}) as Record<string, unknown>;
  const labels = (d.labels && typeof d.labels === "object" ? d.labels : {}) as Record<string, unknown>;
  const tasks = Array.isArray(d.tasks) ? d.tasks : [];
  return {
    name: typeof d.name === "string" ? d.name : "",
    description: typeof d.description === "string" ? d.description : "",
    labelsText: Object.entries(labels)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join("\n"),
    tasks: tasks.map((raw) => {
      const t = (raw ?? {}) as Record<string, unknown>;
      const params = t.params && typeof t.params === "object" && !Array.isArray(t.params) ? (t.params as Record<string, unknown>) : {};
      const retry = (t.retry ?? null) as Record<string, unknown> | null;
      return {
        key: newKey(),
        name: typeof t.name === "string" ? t.name : "",
        executor: typeof t.executor === "string" ? t.executor : "noop",
        instrument: typeof t.instrument === "string" ? t.instrument : "",
        depends_on: Array.isArray(t.depends_on) ? t.depends_on.map(String) : [],
        params,
        paramsText: pretty(params),
        paramsError: null,
        timeout_s: typeof t.timeout_s === "number" ? String(t.timeout_s) : "",
        customRetry: !!retry,
        retry: {
          max_attempts: String(retry?.max_attempts ?? 3),
          backoff_s: String(retry?.backoff_s ?? 1),
          max_backoff_s: String(retry?.max_backoff_s ?? 60),
        },
      };
    }),
  };
}

/** Rename a task and follow the rename in the others' dependencies. */
export function renameTask(draft: Draft, key: string, name: string): Draft {
  const old = draft.tasks.find((t) => t.key === key)?.name ?? "";
  const unique = old && draft.tasks.filter((t) => t.name === old).length === 1;
  return {
    ...draft,
    tasks: draft.tasks.map((t) => {
      if (t.key === key) return { ...t, name };
      if (unique && t.depends_on.includes(old)) return { ...t, depends_on: t.depends_on.map((d) => (d === old ? name : d)) };
      return t;
    }),
  };
}

/** Remove a task and the dependencies on it. */
export function removeTask(draft: Draft, key: string): Draft {
  const gone = draft.tasks.find((t) => t.key === key);
  return {
    ...draft,
    tasks: draft.tasks.filter((t) => t.key !== key).map((t) => (gone ? { ...t, depends_on: t.depends_on.filter((d) => d !== gone.name) } : t)),
  };
}

export const EXAMPLE: Record<string, unknown> = {
  name: "Weigh, dissolve, inject",
  description: "A small example: a weighing, a dissolution step and an HPLC injection (simulated with noop outputs).",
  labels: { batch: "B-1042" },
  tasks: [
    { name: "weigh", executor: "noop", params: { outputs: { mass_mg: 100.12, unit: "mg", stable: true } } },
    { name: "dissolve", executor: "python", depends_on: ["weigh"], params: { function: "laf_runner.library:sleep", seconds: 1 } },
    { name: "inject", executor: "python", depends_on: ["dissolve"], params: { function: "laf_runner.library:echo", value: 1 } },
  ],
};
