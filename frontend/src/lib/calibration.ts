// An instrument's calibration-due date as the lab board shows it: past is overdue
// (red), within two weeks is soon, and the days left in words.

export type CalibrationState = "none" | "ok" | "soon" | "overdue";

/** Today in the browser's time zone, as YYYY-MM-DD (the API's dates are calendar dates). */
export function localToday(now: Date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())}`;
}

/** Whole days from `today` to `due` (both YYYY-MM-DD); negative once it is past. */
export function daysUntil(due: string, today: string): number {
  return Math.round((Date.parse(`${due}T00:00:00Z`) - Date.parse(`${today}T00:00:00Z`)) / 86400000);
}

export function calibrationState(due: string | null | undefined, today: string, soonDays = 14): CalibrationState {
  if (!due) return "none";
  const days = daysUntil(due, today);
  return days < 0 ? "overdue" : days <= soonDays ? "soon" : "ok";
}

/** "overdue by 3 days" · "due today" · "due in 1 day" · "" when there is no date. */
export function describeCalibration(due: string | null | undefined, today: string): string {
  if (!due) return "";
  const days = daysUntil(due, today);
  const n = (k: number) => `${k} day${k === 1 ? "" : "s"}`;
  if (days < 0) return `overdue by ${n(-days)}`;
  return days === 0 ? "due today" : `due in ${n(days)}`;
}
