"""Dissolution bath (USP apparatus 2): % dissolved rising along a saturating curve.

A Weibull profile, faster at higher paddle speed; the vessel holds params.medium_ml (mL)
at about 37.0 °C. The weighed mass (from the input holding `mass_mg`) gives the
solution's concentration, which the HPLC reads.
"""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

from laf_simlab.instruments import InvalidParams, Measurement, input_with, number

DEFAULT_POINTS = [0, 5, 10, 15, 20, 30, 45]
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "medium_ml": {"type": "number", "minimum": 10, "maximum": 1000},
        "paddle_rpm": {"type": "number", "minimum": 25, "maximum": 150},
        "temperature_c": {"type": "number", "minimum": 20, "maximum": 45},
        "time_points_min": {
            "type": "array",
            "items": {"type": "number", "minimum": 0},
            "minItems": 2,
        },
        "mass_from": {"type": "string", "description": "The dependency whose mass_mg is dissolved"},
        "seed": {"type": "integer"},
    },
}


def dissolve(rng: random.Random, params: dict[str, Any], inputs: dict[str, Any]) -> Measurement:
    volume = number(params, "medium_ml", 900.0, 10.0, 1000.0)
    rpm = number(params, "paddle_rpm", 50.0, 25.0, 150.0)
    setpoint = number(params, "temperature_c", 37.0, 20.0, 45.0)
    points = params.get("time_points_min", DEFAULT_POINTS)
    if (
        not isinstance(points, list)
        or len(points) < 2
        or not all(isinstance(p, int | float) and p >= 0 for p in points)
    ):
        raise InvalidParams("params.time_points_min must list at least two times in minutes")
    weighed = input_with(inputs, "mass_mg", params.get("mass_from"))
    plateau = min(100.5, 100 * (1 + rng.gauss(0, 0.002)))
    tau = 9.0 * math.sqrt(50 / rpm) * rng.uniform(0.85, 1.15)
    shape = rng.uniform(1.0, 1.3)
    curve = []
    for t in points:
        share = plateau * (1 - math.exp(-((t / tau) ** shape))) if t > 0 else 0.0
        curve.append(round(max(0.0, share + (rng.gauss(0, 0.6) if t > 0 else 0.0)), 1))
    temperatures = [round(setpoint + rng.gauss(0, 0.08), 2) for _ in points]
    at_30 = _interpolate(points, curve, 30.0)
    outputs: dict[str, Any] = {
        "time_min": [float(t) for t in points],
        "dissolved_percent": curve,
        "temperature_c": round(sum(temperatures) / len(temperatures), 2),
        "paddle_rpm": rpm,
        "medium_ml": volume,
        "q30_percent": round(at_30, 1),
        "meets_q80_at_30_min": at_30 >= 80.0,
    }
    if weighed is not None:
        dissolved_mg = float(weighed["mass_mg"]) * min(plateau, 100.0) / 100
        outputs["mass_mg"] = float(weighed["mass_mg"])
        outputs["concentration_mg_per_ml"] = round(dissolved_mg / volume, 6)
        if "material" in weighed:
            outputs["material"] = weighed["material"]
    return Measurement(outputs, duration_s=max(points) * 60.0)


def _interpolate(xs: list[float], ys: list[float], x: float) -> float:
    pairs = sorted(zip(xs, ys, strict=True))
    if x <= pairs[0][0]:
        return pairs[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(pairs):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return pairs[-1][1]
