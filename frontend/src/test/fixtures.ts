// Test data shaped as docs/outputs.md describes, and the served workflow schema.
import workflowSchema from "../../workflow.schema.json";

export const WORKFLOW_SCHEMA = workflowSchema as Record<string, unknown>;

/** A chromatogram: flat baseline with two Gaussian peaks. */
export function chromatogramOutputs() {
  const t: number[] = [];
  const mau: number[] = [];
  for (let i = 0; i <= 600; i++) {
    const x = i / 60;
    t.push(Number(x.toFixed(4)));
    mau.push(2 + 480 * Math.exp(-((x - 4.2) ** 2) / 0.004) + 9 * Math.exp(-((x - 6.8) ** 2) / 0.006));
  }
  return {
    chromatogram: { t_min: t, mau },
    peaks: [
      { name: "paracetamol", retention_min: 4.2, area: 15234.6, height: 482, width_min: 0.11, tailing: 1.08, plates: 8900 },
      { name: "impurity-A", retention_min: 6.8, area: 42.1, height: 9, width_min: 0.13, tailing: 1.2, plates: 9100 },
    ],
    run_time_min: 10,
    wavelength_nm: 254,
  };
}
