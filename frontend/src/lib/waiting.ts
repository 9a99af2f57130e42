// Waiting, derived from what the API already gives: the spans a task spent
// `waiting` (ready, its instrument busy) from the history, and a waiting task's
// place in its instrument's line from GET /api/instruments/{id} (`queue`, first
// in line first; `current`, the tasks holding a slot).
import type { HistoryEntry, Instrument, InstrumentTask, Task } from "../api/types";

export interface Span {
  start: number;
  /** null: still waiting */
  end: number | null;
}

/** Each task's spans in `waiting` (entered → left), by task name, from the history (oldest first). */
export function waitingSpans(history: HistoryEntry[]): Map<string, Span[]> {
  const spans = new Map<string, Span[]>();
  for (const h of history) {
    if (!h.task_name) continue;
    const at = new Date(h.at).getTime();
    const list = spans.get(h.task_name);
    const open = list?.length ? list[list.length - 1] : undefined;
    if (open && open.end === null && h.to_status !== "waiting") open.end = at;
    if (h.to_status === "waiting" && !(open && open.end === null)) (list ?? spans.set(h.task_name, []).get(h.task_name)!).push({ start: at, end: null });
  }
  return spans;
}

export interface PlaceInLine {
  instrument: string;
  /** 1 = next to get a slot; null: holding a slot now */
  position: number | null;
  /** how many wait in line */
  length: number;
  /** the tasks ahead in line, nearest last */
  ahead: InstrumentTask[];
  /** the tasks holding the instrument's slots now */
  holding: InstrumentTask[];
}

/** Where each of `tasks` that waits for (or holds) an instrument stands, by task name. */
export function placesInLine(tasks: Task[], instruments: Instrument[]): Map<string, PlaceInLine> {
  const byId = new Map(instruments.map((i) => [i.id, i]));
  const out = new Map<string, PlaceInLine>();
  for (const t of tasks) {
    if (!t.instrument || !(t.status === "waiting" || t.status === "queued" || t.status === "running")) continue;
    const inst = byId.get(t.instrument);
    if (!inst) continue;
    const index = inst.queue.findIndex((q) => q.task_id === t.id);
    if (index >= 0) out.set(t.name, { instrument: inst.id, position: index + 1, length: inst.queue.length, ahead: inst.queue.slice(0, index), holding: inst.current });
    else if (inst.current.some((c) => c.task_id === t.id)) out.set(t.name, { instrument: inst.id, position: null, length: inst.queue.length, ahead: [], holding: inst.current });
  }
  return out;
}

export function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? "th" : ({ 1: "st", 2: "nd", 3: "rd" } as Record<number, string>)[n % 10] ?? "th";
  return `${n}${suffix}`;
}

/** "2nd of 3 in line for balance-01", or "on balance-01 now". */
export function describePlace(p: PlaceInLine): string {
  return p.position === null ? `has a slot on ${p.instrument}` : `${ordinal(p.position)} of ${p.length} in line for ${p.instrument}`;
}
