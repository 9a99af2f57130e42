"""pH meter: calibrated with buffers 4.01, 7.00, 10.01; answers at once."""

from __future__ import annotations

import math
import random
from typing import Any

from laf_simlab.instruments import Measurement, number

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "nominal_ph": {
            "type": "number",
            "minimum": 0,
            "maximum": 14,
            "description": "The sample's true pH",
        },
        "temperature_c": {"type": "number", "minimum": 0, "maximum": 80},
        "seed": {"type": "integer"},
    },
}


def measure(rng: random.Random, params: dict[str, Any], inputs: dict[str, Any]) -> Measurement:
    true_ph = number(params, "nominal_ph", 6.8, 0.0, 14.0) + rng.gauss(0, 0.02)
    temperature = number(params, "temperature_c", 25.0, 0.0, 80.0) + rng.gauss(0, 0.1)
    times = [round(0.5 * i, 1) for i in range(13)]
    start = true_ph + rng.uniform(-0.4, 0.4)
    readings = [round(true_ph + (start - true_ph) * math.exp(-t / 1.2), 2) for t in times]
    readings[-1] = round(true_ph, 2)
    return Measurement(
        {
            "ph": round(true_ph, 2),
            "temperature_c": round(temperature, 1),
            "slope_percent": round(rng.uniform(97.0, 101.5), 1),
            "calibration_buffers": [4.01, 7.00, 10.01],
            "readings": {"t_s": times, "ph": readings},
        },
        duration_s=0.0,
    )
