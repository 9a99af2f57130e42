// One way to show a time everywhere: YYYY-MM-DD HH:MM:SS in the browser's time
// zone, with the zone's name; durations in words a person reads at a glance.
const parts = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
  timeZoneName: "short",
  numberingSystem: "latn",
});

function toDate(iso: string | null | undefined): Date | null {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** "2026-12-02 07:37:09 CET": the one format of every time shown. */
export function formatTime(iso: string | null | undefined): string {
  const d = toDate(iso);
  if (!d) return "—";
  const p = Object.fromEntries(parts.formatToParts(d).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} ${p.timeZoneName ?? ""}`.trim();
}

/** The browser's time zone, as shown beside lists of times: "Europe/Berlin (CET)". */
export function timeZoneLabel(): string {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const short = parts.formatToParts(new Date()).find((x) => x.type === "timeZoneName")?.value;
  return short && short !== zone ? `${zone} (${short})` : zone;
}

/** 350 ms · 4.2 s · 3 min 05 s · 2 h 03 min · 1 d 4 h */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds)) return "—";
  if (seconds < 0) seconds = 0;
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const total = Math.round(seconds);
  const m = Math.floor(total / 60);
  const s = total % 60;
  if (m < 60) return `${m} min ${String(s).padStart(2, "0")} s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${String(m % 60).padStart(2, "0")} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

export function secondsBetween(a: string | null | undefined, b: string | null | undefined): number | null {
  if (!a || !b) return null;
  return (new Date(b).getTime() - new Date(a).getTime()) / 1000;
}

export function formatNumber(v: number, digits = 4): string {
  if (Number.isInteger(v)) return v.toLocaleString(undefined);
  const abs = Math.abs(v);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e7)) return v.toExponential(3);
  return Number(v.toPrecision(digits + (abs >= 1 ? Math.floor(Math.log10(abs)) : 0))).toLocaleString(undefined, { maximumFractionDigits: 6 });
}
