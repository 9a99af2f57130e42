import { describe, expect, it } from "vitest";
import { chromatogramOutputs } from "../test/fixtures";
import { detectViews, ticks } from "./shapes";

const kinds = (outputs: unknown) => detectViews(outputs).map((v) => v.kind);

describe("detectViews picks a picture from the shape (docs/outputs.md)", () => {
  it("draws a chromatogram with its peaks", () => {
    const views = detectViews(chromatogramOutputs());
    expect(views.map((v) => v.kind)).toEqual(["chromatogram"]);
    const c = views[0];
    if (c.kind !== "chromatogram") throw new Error();
    expect(c.peaks.map((p) => p.name)).toEqual(["paracetamol", "impurity-A"]);
    expect(c.wavelengthNm).toBe(254);
  });

  it("does not call mismatched arrays a chromatogram", () => {
    expect(kinds({ chromatogram: { t_min: [0, 1, 2], mau: [1, 2] } })).toEqual([]);
  });

  it("shows a mass reading, with its settling curve", () => {
    const views = detectViews({ mass_mg: 100.12, stable: true, unit: "mg", readings: { t_s: [0, 1, 2, 3], mass_mg: [99, 100.3, 100.15, 100.12] } });
    expect(views.map((v) => v.kind)).toEqual(["mass"]);
    expect(views[0].kind === "mass" && views[0].readings?.mass).toHaveLength(4);
    expect(kinds({ mass_mg: 50.12, unit: "mg", stable: true })).toEqual(["mass"]);
    // a mass echoed beside other results is a value, not a reading
    expect(kinds({ mass_mg: 49.8, time_min: [0, 5, 10], dissolved_percent: [0, 52, 80] })).toEqual(["timeseries", "scalars"]);
  });

  it("finds time series at the top level and one level down, the first array as x", () => {
    const top = detectViews({ time_min: [5, 10, 15, 30], dissolved_percent: [20, 45, 70, 92] });
    expect(top).toEqual([{ kind: "timeseries", title: "outputs", x: { key: "time_min", values: [5, 10, 15, 30] }, series: [{ key: "dissolved_percent", values: [20, 45, 70, 92] }] }]);
    const nested = detectViews({ profile: { time_min: [0, 1, 2], temperature_c: [36.9, 37.0, 37.1], rpm: [50, 50, 50] }, vessel: 3 });
    expect(nested.map((v) => v.kind)).toEqual(["timeseries", "scalars"]);
    expect(nested[0].kind === "timeseries" && nested[0].series.map((s) => s.key)).toEqual(["temperature_c", "rpm"]);
  });

  it("puts other numbers in a table, and log tails apart", () => {
    const views = detectViews({ assay_percent: 99.5, limits: [95, 105], pass: true, exit_code: 0, stdout_tail: "ok\n", stderr_tail: "" });
    expect(views.map((v) => v.kind)).toEqual(["scalars", "log"]);
    if (views[0].kind !== "scalars") throw new Error();
    expect(views[0].rows).toEqual([
      { key: "assay_percent", value: 99.5 },
      { key: "exit_code", value: 0 },
      { key: "pass", value: true },
    ]);
  });

  it("draws nothing for outputs without numbers", () => {
    expect(detectViews({})).toEqual([]);
    expect(detectViews(null)).toEqual([]);
    expect(kinds({ message: "hello" })).toEqual([]);
  });
});

describe("ticks", () => {
  it("gives round steps covering the range", () => {
    expect(ticks(0, 10, 5)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(ticks(0.3, 0.92, 4)).toEqual([0.4, 0.6, 0.8]);
  });
});
