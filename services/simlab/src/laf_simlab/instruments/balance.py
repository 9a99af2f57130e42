"""Analytical balance: a reading that settles over a few seconds, 0.01 mg resolution.

The amount on the pan lands within ±3 % of params.target_mg (an operator's scoop);
the display overshoots, rings down and its noise shrinks until it is stable.
"""

from __future__ import annotations

import math
import random
from typing import Any

from laf_simlab.instruments import Measurement, number

SAMPLE_HZ = 10
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "target_mg": {
            "type": "number",
            "minimum": 1,
            "maximum": 5000,
            "description": "What to weigh out",
        },
        "material": {
            "type": "string",
            "description": "What is on the pan, e.g. 'standard' or 'sample'",
        },
        "tare": {"type": "boolean", "default": True, "description": "Tare before weighing"},
        "seed": {"type": "integer"},
    },
}


def weigh(rng: random.Random, params: dict[str, Any], inputs: dict[str, Any]) -> Measurement:
    target = number(params, "target_mg", 100.0, 1.0, 5000.0)
    on_pan = target * (1 + rng.uniform(-0.03, 0.03))
    settle_s = rng.uniform(2.0, 4.0)
    tau = settle_s / 4
    overshoot = rng.uniform(0.4, 1.5) * rng.choice((-1, 1))
    ring_hz = rng.uniform(0.6, 1.2)
    final = round(on_pan + rng.gauss(0, 0.004), 2)
    steps = int((settle_s + 1.0) * SAMPLE_HZ)
    times, masses = [], []
    for i in range(steps + 1):
        t = i / SAMPLE_HZ
        decay = math.exp(-t / tau)
        wobble = overshoot * decay * math.cos(2 * math.pi * ring_hz * t)
        noise = rng.gauss(0, 0.05 * decay + 0.003)
        times.append(round(t, 2))
        masses.append(round(on_pan + wobble + noise, 2) if t < settle_s else final)
    outputs = {
        "mass_mg": final,
        "stable": True,
        "unit": "mg",
        "target_mg": target,
        "settling_s": round(settle_s, 2),
        "readings": {"t_s": times, "mass_mg": masses},
    }
    if "material" in params:
        outputs["material"] = str(params["material"])
    return Measurement(outputs, duration_s=settle_s + 1.0)
