// What a workflow's page says first: the first error (the earliest failed task)
// and the headline results: the scalar outputs of the tasks nothing depends on.
import type { Workflow } from "../api/types";

export type Scalar = string | number | boolean;
export interface Headline {
  error: { task: string; message: string; at: string | null; more: number } | null;
  results: { task: string; values: [string, Scalar][] }[];
}

const MAX_RESULTS = 3;
const MAX_VALUES = 8;

export function headline(w: Workflow): Headline {
  const failed = w.tasks.filter((t) => t.status === "failed" && t.error);
  failed.sort((a, b) => (a.finished_at ?? "\uffff").localeCompare(b.finished_at ?? "\uffff"));
  const first = failed[0];
  const error = first ? { task: first.name, message: first.error!, at: first.finished_at ?? null, more: failed.length - 1 } : null;
  const needed = new Set<string>();
  for (const t of w.tasks) for (const d of t.depends_on) needed.add(d);
  const results: Headline["results"] = [];
  for (const t of w.tasks) {
    if (needed.has(t.name) || t.status !== "succeeded" || !t.outputs) continue;
    const values = Object.entries(t.outputs).filter((e): e is [string, Scalar] => {
      const v = e[1];
      return typeof v === "number" || typeof v === "boolean" || (typeof v === "string" && v.length <= 80);
    });
    if (values.length) results.push({ task: t.name, values: values.slice(0, MAX_VALUES) });
    if (results.length >= MAX_RESULTS) break;
  }
  return { error, results };
}
