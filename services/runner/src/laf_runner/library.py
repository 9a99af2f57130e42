"""Small functions for the `python` executor: demos, tests and benchmarks."""

from __future__ import annotations

import asyncio
from typing import Any


def echo(inputs: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Return params.value (default: the params) and the inputs it received."""
    return {"value": params.get("value", params), "inputs": inputs}


def add(inputs: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Sum params.key (default "value") over every input, plus params.start."""
    key = params.get("key", "value")
    total = params.get("start", 0) + sum(out.get(key, 0) for out in inputs.values())
    return {"value": total}


async def sleep(inputs: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Wait params.seconds without blocking the runner."""
    await asyncio.sleep(float(params.get("seconds", 1)))
    return {"slept": params.get("seconds", 1)}


def fail(inputs: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Raise, for tests of failure handling."""
    raise RuntimeError(params.get("message", "failed on purpose"))


def assay_percent(inputs: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """External-standard assay (DOMAIN.md): (A_spl / A_std) * (W_std / W_spl) * P * 100.

    Reads the areas and weights from the named inputs (params.standard_area_from,
    params.sample_area_from, params.standard_weight_from, params.sample_weight_from)
    and params.purity; reports whether the result is within params.limits.
    """

    def pick(source_param: str, key: str) -> float:
        return float(inputs[params[source_param]][key])

    area_std = pick("standard_area_from", "area")
    area_spl = pick("sample_area_from", "area")
    weight_std = pick("standard_weight_from", "mass_mg")
    weight_spl = pick("sample_weight_from", "mass_mg")
    purity = float(params.get("purity", 1.0))
    assay = (area_spl / area_std) * (weight_std / weight_spl) * purity * 100
    low, high = params.get("limits", [95.0, 105.0])
    return {"assay_percent": round(assay, 2), "limits": [low, high], "pass": low <= assay <= high}
