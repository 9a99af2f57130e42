"""HPLC: one injection's chromatogram, its peaks and the main peak's area.

Absorbance (mAU) sampled at 5 Hz over the run: a drifting baseline with small
noise and bi-Gaussian peaks (tailing factor = (sigma_front + sigma_back) / 2 sigma_front).
The main peak's area is proportional to the analyte injected: the solution's
concentration (from the input holding `concentration_mg_per_ml`) times the
material's true analyte content times the injection volume, with 0.4 % RSD.
Impurities are small peaks (< 0.5 % area) before and after it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from laf_simlab.instruments import Measurement, input_with, number

SAMPLE_HZ = 5
RESPONSE = 3000.0  # mAU·s per (mg/mL · µL) of analyte
# The simulated truth: the analyte's mass fraction in each material.
CONTENT = {"standard": 0.998, "sample": 0.995}
IMPURITIES = {  # (name, retention relative to the main peak, area relative to it)
    "standard": [("impurity B", 1.45, 0.0003)],
    "sample": [("impurity A", 0.62, 0.0012), ("impurity B", 1.45, 0.0008)],
}
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "method": {"type": "string"},
        "analyte": {"type": "string"},
        "material": {"type": "string", "description": "Default: the input solution's material"},
        "content": {
            "type": "number",
            "minimum": 0,
            "maximum": 1.2,
            "description": "Simulated truth",
        },
        "concentration_mg_per_ml": {
            "type": "number",
            "minimum": 0,
            "description": "Without an input",
        },
        "injection_ul": {"type": "number", "minimum": 1, "maximum": 100},
        "flow_ml_min": {"type": "number", "minimum": 0.1, "maximum": 5},
        "column_temp_c": {"type": "number", "minimum": 15, "maximum": 80},
        "wavelength_nm": {"type": "number", "minimum": 190, "maximum": 800},
        "run_time_min": {"type": "number", "minimum": 1, "maximum": 120},
        "solution_from": {"type": "string", "description": "The dependency holding the solution"},
        "seed": {"type": "integer"},
    },
}


@dataclass(frozen=True)
class Peak:
    name: str
    retention_min: float
    area: float  # mAU·s
    sigma_min: float  # front half
    tailing: float

    @property
    def sigma_back_min(self) -> float:
        return self.sigma_min * (2 * self.tailing - 1)

    @property
    def height(self) -> float:
        spread_s = 60 * (self.sigma_min + self.sigma_back_min) / 2
        return self.area / (spread_s * math.sqrt(2 * math.pi))

    def at(self, t_min: float) -> float:
        sigma = self.sigma_min if t_min <= self.retention_min else self.sigma_back_min
        return self.height * math.exp(-0.5 * ((t_min - self.retention_min) / sigma) ** 2)

    def describe(self, total_area: float) -> dict[str, Any]:
        sigma_avg = (self.sigma_min + self.sigma_back_min) / 2
        return {
            "name": self.name,
            "retention_min": round(self.retention_min, 3),
            "area": round(self.area, 1),
            "area_percent": round(100 * self.area / total_area, 3),
            "height": round(self.height, 2),
            "width_min": round(2.3548 * sigma_avg, 4),  # at half height
            "tailing": round(self.tailing, 2),
            "plates": int(round((self.retention_min / sigma_avg) ** 2, -1)),
        }


def inject(rng: random.Random, params: dict[str, Any], inputs: dict[str, Any]) -> Measurement:
    flow = number(params, "flow_ml_min", 1.0, 0.1, 5.0)
    column_temp = number(params, "column_temp_c", 30.0, 15.0, 80.0)
    volume_ul = number(params, "injection_ul", 10.0, 1.0, 100.0)
    wavelength = number(params, "wavelength_nm", 254.0, 190.0, 800.0)
    run_time = number(params, "run_time_min", 10.0, 1.0, 120.0)
    solution = input_with(inputs, "concentration_mg_per_ml", params.get("solution_from")) or {}
    concentration = float(
        solution.get("concentration_mg_per_ml", params.get("concentration_mg_per_ml", 0.5))
    )
    material = str(params.get("material", solution.get("material", "sample")))
    content = float(params.get("content", CONTENT.get(material, 1.0)))

    main_rt = 4.2 / flow * (1 - 0.01 * (column_temp - 30)) + rng.gauss(0, 0.01)
    main_area = RESPONSE * concentration * content * volume_ul * (1 + rng.gauss(0, 0.004))
    peaks = [_peak(rng, str(params.get("analyte", "paracetamol")), main_rt, main_area)]
    for name, relative_rt, relative_area in IMPURITIES.get(material, []):
        area = main_area * relative_area * rng.uniform(0.8, 1.2)
        peaks.append(_peak(rng, name, main_rt * relative_rt + rng.gauss(0, 0.01), area))
    peaks = [p for p in peaks if p.retention_min < run_time]
    peaks.sort(key=lambda p: p.retention_min)

    drift = rng.uniform(-0.3, 0.3)
    times, absorbance = [], []
    for i in range(int(run_time * 60 * SAMPLE_HZ) + 1):
        t = i / (60 * SAMPLE_HZ)
        signal = drift * t / run_time + rng.gauss(0, 0.04) + sum(p.at(t) for p in peaks)
        times.append(round(t, 4))
        absorbance.append(round(signal, 3))
    total = sum(p.area for p in peaks) or 1.0
    main = max(peaks, key=lambda p: p.area) if peaks else None
    outputs: dict[str, Any] = {
        "chromatogram": {"t_min": times, "mau": absorbance},
        "peaks": [p.describe(total) for p in peaks],
        "run_time_min": run_time,
        "wavelength_nm": wavelength,
        "flow_ml_min": flow,
        "injection_ul": volume_ul,
        "material": material,
    }
    if "method" in params:
        outputs["method"] = str(params["method"])
    if main is not None:
        outputs["area"] = round(main.area, 1)
        outputs["retention_min"] = round(main.retention_min, 3)
    return Measurement(outputs, duration_s=run_time * 60.0)


def _peak(rng: random.Random, name: str, retention_min: float, area: float) -> Peak:
    plates = rng.uniform(5500, 9000)
    return Peak(
        name=name,
        retention_min=retention_min,
        area=area,
        sigma_min=retention_min / math.sqrt(plates),
        tailing=rng.uniform(1.0, 1.3),
    )
