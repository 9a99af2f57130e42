// Pick pictures for a task's outputs from their shape (docs/outputs.md).

export interface Peak {
  name: string;
  retention_min: number;
  area?: number;
  height?: number;
  width_min?: number;
  tailing?: number;
  plates?: number;
}

export type OutputView =
  | { kind: "chromatogram"; t: number[]; mau: number[]; peaks: Peak[]; runTimeMin?: number; wavelengthNm?: number }
  | { kind: "mass"; massMg: number; stable?: boolean; unit: string; readings?: { t: number[]; mass: number[] } }
  | { kind: "timeseries"; title: string; x: { key: string; values: number[] }; series: { key: string; values: number[] }[] }
  | { kind: "scalars"; rows: { key: string; value: number | boolean | string }[] }
  | { kind: "log"; stdout?: string; stderr?: string };

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
export const isNumericArray = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every(isNumber);

function chromatogram(out: Json): OutputView | null {
  const c = out.chromatogram;
  if (!isObject(c) || !isNumericArray(c.t_min) || !isNumericArray(c.mau) || c.t_min.length !== c.mau.length) return null;
  const peaks = Array.isArray(out.peaks)
    ? out.peaks.filter((p): p is Peak => isObject(p) && isNumber(p.retention_min)).map((p) => ({ ...p, name: String(p.name ?? "") }))
    : [];
  return {
    kind: "chromatogram",
    t: c.t_min,
    mau: c.mau,
    peaks,
    runTimeMin: isNumber(out.run_time_min) ? out.run_time_min : undefined,
    wavelengthNm: isNumber(out.wavelength_nm) ? out.wavelength_nm : undefined,
  };
}

function mass(out: Json): OutputView | null {
  // a balance's reading says whether it settled (or shows how): a mass_mg alone
  // (e.g. the sample mass a dissolution echoes) is just a value
  if (!isNumber(out.mass_mg) || (typeof out.stable !== "boolean" && !isObject(out.readings))) return null;
  const r = out.readings;
  const readings =
    isObject(r) && isNumericArray(r.t_s) && isNumericArray(r.mass_mg) && r.t_s.length === r.mass_mg.length
      ? { t: r.t_s, mass: r.mass_mg }
      : undefined;
  return {
    kind: "mass",
    massMg: out.mass_mg,
    stable: typeof out.stable === "boolean" ? out.stable : undefined,
    unit: typeof out.unit === "string" ? out.unit : "mg",
    readings,
  };
}

/** Two or more numeric arrays of one length (>= 2 points) in `obj`: the first is x. */
function series(obj: Json, title: string): OutputView | null {
  const arrays = Object.entries(obj).filter((e): e is [string, number[]] => isNumericArray(e[1]) && e[1].length >= 2);
  const byLength = new Map<number, [string, number[]][]>();
  for (const [k, v] of arrays) (byLength.get(v.length) ?? byLength.set(v.length, []).get(v.length)!).push([k, v]);
  const group = [...byLength.values()].find((g) => g.length >= 2);
  if (!group) return null;
  const [[xKey, xValues], ...rest] = group;
  return { kind: "timeseries", title, x: { key: xKey, values: xValues }, series: rest.map(([key, values]) => ({ key, values })) };
}

const LOG_KEYS = new Set(["stdout_tail", "stderr_tail"]);

/** The pictures for one task's outputs, most specific first. */
export function detectViews(outputs: unknown): OutputView[] {
  if (!isObject(outputs)) return [];
  const views: OutputView[] = [];
  const used = new Set<string>();
  const chrom = chromatogram(outputs);
  if (chrom) {
    views.push(chrom);
    ["chromatogram", "peaks", "run_time_min", "wavelength_nm"].forEach((k) => used.add(k));
  }
  const m = mass(outputs);
  if (m) {
    views.push(m);
    ["mass_mg", "stable", "unit", "readings"].forEach((k) => used.add(k));
  }
  const top = series(Object.fromEntries(Object.entries(outputs).filter(([k]) => !used.has(k))), "outputs");
  if (top && top.kind === "timeseries") {
    views.push(top);
    used.add(top.x.key);
    top.series.forEach((s) => used.add(s.key));
  }
  for (const [key, value] of Object.entries(outputs)) {
    if (used.has(key) || !isObject(value)) continue;
    const nested = series(value, key);
    if (nested) {
      views.push(nested);
      used.add(key);
    }
  }
  const rows: { key: string; value: number | boolean | string }[] = [];
  for (const [key, value] of Object.entries(outputs)) {
    if (used.has(key) || LOG_KEYS.has(key)) continue;
    if (isNumber(value)) rows.push({ key, value });
    else if (isObject(value))
      for (const [inner, v] of Object.entries(value)) if (isNumber(v)) rows.push({ key: `${key}.${inner}`, value: v });
  }
  if (rows.length) {
    // booleans and short strings that sit beside numbers (e.g. "pass", "unit") read well in the same table
    for (const [key, value] of Object.entries(outputs))
      if (!used.has(key) && !LOG_KEYS.has(key) && (typeof value === "boolean" || (typeof value === "string" && value.length <= 40)))
        rows.push({ key, value });
    views.push({ kind: "scalars", rows });
  }
  const stdout = typeof outputs.stdout_tail === "string" ? outputs.stdout_tail : undefined;
  const stderr = typeof outputs.stderr_tail === "string" ? outputs.stderr_tail : undefined;
  if (stdout || stderr) views.push({ kind: "log", stdout, stderr });
  return views;
}

/** "Nice" axis ticks covering [min, max]. */
export function ticks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const span = max - min;
  const rough = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => span / s <= count) ?? 10 * magnitude;
  const first = Math.ceil(min / step) * step;
  const out: number[] = [];
  for (let v = first; v <= max + step * 1e-9; v += step) out.push(Number(v.toFixed(10)));
  return out;
}
