import { describe, expect, it } from "vitest";
import { calibrationState, daysUntil, describeCalibration, localToday } from "./calibration";

describe("calibration due", () => {
  it("is overdue once past, soon within two weeks, else fine", () => {
    expect(calibrationState("2026-12-01", "2026-12-02")).toBe("overdue");
    expect(calibrationState("2026-12-02", "2026-12-02")).toBe("soon");
    expect(calibrationState("2026-12-16", "2026-12-02")).toBe("soon");
    expect(calibrationState("2026-12-17", "2026-12-02")).toBe("ok");
    expect(calibrationState(null, "2026-12-02")).toBe("none");
  });

  it("counts days across a month and a daylight-saving change", () => {
    expect(daysUntil("2027-04-01", "2027-03-25")).toBe(7);
    expect(describeCalibration("2026-11-29", "2026-12-02")).toBe("overdue by 3 days");
    expect(describeCalibration("2026-12-02", "2026-12-02")).toBe("due today");
    expect(describeCalibration("2026-12-03", "2026-12-02")).toBe("due in 1 day");
    expect(describeCalibration(undefined, "2026-12-02")).toBe("");
  });

  it("takes today in the browser's own calendar", () => {
    expect(localToday(new Date(2026, 0, 5, 23, 59))).toBe("2026-01-05");
  });
});
