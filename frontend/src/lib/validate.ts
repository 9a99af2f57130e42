// Browser-side validation of a workflow document, before anything is sent:
// Ajv against the JSON Schema the API serves (/api/schemas/workflow), the graph
// checks JSON Schema cannot express (lib/graph.ts), and each task's params
// against its instrument's parameters_schema. Server 422s are mapped to the
// same field paths, so every error is shown next to its field.
import Ajv2020, { type ErrorObject, type ValidateFunction } from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { graphProblems } from "./graph";

export interface FieldError {
  /** dotted path into the document: "name", "tasks.0.depends_on", "" for the whole document */
  path: string;
  message: string;
  source: "schema" | "graph" | "instrument" | "server" | "json";
}

type Json = Record<string, unknown>;

function newAjv() {
  const ajv = new Ajv2020({ allErrors: true, strict: false, verbose: true, validateFormats: true });
  addFormats(ajv);
  return ajv;
}

const compiled = new WeakMap<object, ValidateFunction>();

export function compile(schema: object): ValidateFunction {
  let fn = compiled.get(schema);
  if (!fn) {
    // A fresh Ajv per schema: the workflow schema carries an $id, and a refetched
    // copy must not clash with the one compiled before.
    fn = newAjv().compile(schema);
    compiled.set(schema, fn);
  }
  return fn;
}

const pointerToPath = (pointer: string) =>
  pointer
    .split("/")
    .slice(1)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .join(".");

function joinPath(...parts: (string | number | undefined)[]) {
  return parts.filter((p) => p !== undefined && p !== "").join(".");
}

/** Ajv errors as readable messages, at the path of the field they are about. */
export function ajvErrors(errors: ErrorObject[] | null | undefined, prefix = ""): FieldError[] {
  const out: FieldError[] = [];
  for (const e of errors ?? []) {
    let path = pointerToPath(e.instancePath);
    let message = e.message ?? "is invalid";
    if (e.keyword === "required") {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      path = joinPath(path, missing);
      message = "is required";
    } else if (e.keyword === "additionalProperties") {
      message = `unknown field '${(e.params as { additionalProperty: string }).additionalProperty}'`;
    } else if (e.keyword === "pattern") {
      const description = (e.parentSchema as { description?: string } | undefined)?.description;
      message = description ? `invalid: ${description}` : message;
    } else if (e.keyword === "enum") {
      const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues ?? [];
      message = `must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`;
    } else if (e.keyword === "minItems" && (e.params as { limit?: number }).limit === 1) {
      message = "needs at least one entry";
    } else if (e.keyword === "minLength" && (e.params as { limit?: number }).limit === 1) {
      message = "must not be empty";
    }
    out.push({ path: joinPath(prefix, path), message, source: "schema" });
  }
  // A nullable field ("anyOf": [{…}, {"type": "null"}]) reports its real problem
  // plus "must be null" and "must match a schema in anyOf": keep the real one.
  const byPath = new Map<string, FieldError[]>();
  for (const e of out) (byPath.get(e.path) ?? byPath.set(e.path, []).get(e.path)!).push(e);
  const noise = (m: string) => m === "must be null" || m === "must match a schema in anyOf";
  const kept: FieldError[] = [];
  for (const list of byPath.values()) {
    const real = list.filter((e) => !noise(e.message));
    const chosen = real.length ? real : list.filter((e) => e.message !== "must be null").slice(0, 1);
    for (const e of chosen) if (!kept.some((k) => k.path === e.path && k.message === e.message)) kept.push(e);
  }
  return kept;
}

export interface InstrumentSchemas {
  /** id -> parameters_schema (null/undefined when the instrument accepts any params) */
  [id: string]: object | null | undefined;
}

export interface ValidationContext {
  schema: object;
  /** known instruments (undefined: the registry could not be read, do not check) */
  instruments?: InstrumentSchemas;
}

/** Every problem of a workflow document, each at its field's path. */
export function validateWorkflow(doc: unknown, ctx: ValidationContext): FieldError[] {
  const validate = compile(ctx.schema);
  const errors: FieldError[] = [];
  if (!validate(doc)) errors.push(...ajvErrors(validate.errors));
  const tasks = Array.isArray((doc as Json | null)?.tasks) ? ((doc as Json).tasks as unknown[]) : [];
  const graphTasks = tasks.map((t) => {
    const task = (t ?? {}) as Json;
    return {
      name: typeof task.name === "string" ? task.name : "",
      depends_on: Array.isArray(task.depends_on) ? task.depends_on.filter((d): d is string => typeof d === "string") : [],
    };
  });
  for (const p of graphProblems(graphTasks))
    errors.push({ path: `tasks.${p.index}.${p.field}`, message: p.message, source: "graph" });
  if (ctx.instruments) {
    tasks.forEach((t, i) => {
      const task = (t ?? {}) as Json;
      const id = task.instrument;
      if (typeof id !== "string" || !id) return;
      if (!(id in ctx.instruments!)) {
        errors.push({ path: `tasks.${i}.instrument`, message: `unknown instrument '${id}'`, source: "instrument" });
        return;
      }
      const paramsSchema = ctx.instruments![id];
      if (paramsSchema && typeof paramsSchema === "object") {
        let check: ValidateFunction;
        try {
          check = compile(paramsSchema);
        } catch (err) {
          errors.push({ path: `tasks.${i}.instrument`, message: `the parameter schema of '${id}' is unusable: ${String(err)}`, source: "instrument" });
          return;
        }
        if (!check(task.params ?? {}))
          errors.push(...ajvErrors(check.errors, `tasks.${i}.params`).map((e) => ({ ...e, source: "instrument" as const })));
      }
    });
  }
  return errors;
}

/** A server answer (422 `detail`) at the field paths validateWorkflow uses. */
export function serverErrors(detail: unknown, doc: unknown): FieldError[] {
  const tasks = Array.isArray((doc as Json | null)?.tasks) ? ((doc as Json).tasks as Json[]) : [];
  const indexOf = (name: string) => tasks.findIndex((t) => t?.name === name);
  const fromMessage = (message: string, fallback: string): string => {
    const named = /task '([^']+)'/.exec(message) ?? /cycle: ([^\s]+) ->/.exec(message);
    const index = named ? indexOf(named[1]) : -1;
    const instrument = /unknown instrument '([^']+)'/.exec(message);
    if (instrument) {
      const i = tasks.findIndex((t) => t?.instrument === instrument[1]);
      if (i >= 0) return `tasks.${i}.instrument`;
    }
    if (index < 0) return fallback;
    if (/params/.test(message)) return `tasks.${index}.params`;
    if (/depend|cycle/.test(message)) return `tasks.${index}.depends_on`;
    if (/duplicate/.test(message)) return `tasks.${index}.name`;
    return fallback.startsWith(`tasks.${index}`) ? fallback : `tasks.${index}`;
  };
  if (typeof detail === "string") return [{ path: fromMessage(detail, ""), message: detail, source: "server" }];
  if (!Array.isArray(detail)) return [{ path: "", message: JSON.stringify(detail), source: "server" }];
  return detail.map((d: { loc?: unknown[]; msg?: string }) => {
    const loc = (Array.isArray(d.loc) ? d.loc : []).filter((p) => p !== "body").map(String);
    const message = String(d.msg ?? "invalid");
    let path = loc.join(".");
    if (loc.length <= 2) path = fromMessage(message, path);
    return { path, message, source: "server" as const };
  });
}

/** Errors at `path` exactly. */
export function errorsAt(errors: FieldError[], path: string): FieldError[] {
  return errors.filter((e) => e.path === path);
}

/** Errors at `path` or inside it. */
export function errorsUnder(errors: FieldError[], path: string): FieldError[] {
  return errors.filter((e) => e.path === path || e.path.startsWith(path + "."));
}
