// The outputs an operator enters to complete a manual step: from key/value rows
// (each value read as JSON where it is JSON, else as text), from a JSON object, or
// from a form generated from the step's params.outputs_schema, checked by Ajv.
import { ajvErrors, compile } from "./validate";

export interface OutputRow {
  key: string;
  value: string;
}

/** The step's JSON Schema of its outputs (params.outputs_schema), if it gives an object schema. */
export function outputsSchemaOf(params: Record<string, unknown> | null | undefined): Record<string, unknown> | null {
  const schema = params?.outputs_schema;
  return schema && typeof schema === "object" && !Array.isArray(schema) ? (schema as Record<string, unknown>) : null;
}

/** The operator's instructions (params.instructions), if any. */
export function instructionsOf(params: Record<string, unknown> | null | undefined): string | null {
  const text = params?.instructions;
  return typeof text === "string" && text.trim() ? text : null;
}

/** "12" → 12, "true" → true, "[1,2]" → [1, 2], "ok" → "ok", "" → "" (text unless it is JSON). */
export function readValue(text: string): unknown {
  const trimmed = text.trim();
  if (!trimmed) return "";
  try {
    return JSON.parse(trimmed);
  } catch {
    return text;
  }
}

/** Rows to an outputs object, or the problems (an empty or repeated key); blank rows are ignored. */
export function rowsToOutputs(rows: OutputRow[]): { outputs: Record<string, unknown>; errors: string[] } {
  const outputs: Record<string, unknown> = {};
  const errors: string[] = [];
  rows.forEach((row, i) => {
    const key = row.key.trim();
    if (!key && !row.value.trim()) return;
    if (!key) errors.push(`row ${i + 1}: a value needs a name`);
    else if (key in outputs) errors.push(`row ${i + 1}: '${key}' is named twice`);
    else outputs[key] = readValue(row.value);
  });
  return { outputs, errors };
}

/** An outputs object as rows (a value that is not text as JSON), for switching editors. */
export function outputsToRows(outputs: Record<string, unknown>): OutputRow[] {
  const rows = Object.entries(outputs).map(([key, v]) => ({ key, value: typeof v === "string" && readValue(v) === v ? v : JSON.stringify(v) }));
  return rows.length ? rows : [{ key: "", value: "" }];
}

/** A JSON text to an outputs object, or why it is not one. */
export function parseOutputs(text: string): { outputs: Record<string, unknown> | null; error: string | null } {
  try {
    const value = JSON.parse(text.trim() || "{}");
    if (typeof value !== "object" || value === null || Array.isArray(value)) return { outputs: null, error: "outputs must be a JSON object" };
    return { outputs: value as Record<string, unknown>, error: null };
  } catch (err) {
    return { outputs: null, error: `not JSON: ${(err as Error).message}` };
  }
}

/** What is wrong with `outputs` against the step's schema ("vials: must be >= 0"); none when it fits. */
export function outputsProblems(schema: Record<string, unknown> | null, outputs: Record<string, unknown>): string[] {
  if (!schema) return [];
  let check;
  try {
    check = compile(schema);
  } catch (err) {
    return [`the step's outputs_schema is not a valid JSON Schema: ${(err as Error).message}`];
  }
  if (check(outputs)) return [];
  return ajvErrors(check.errors).map((e) => (e.path ? `${e.path}: ${e.message}` : e.message));
}
