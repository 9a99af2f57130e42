"""The simulated instruments: pure functions from (seeded random, params, inputs) to data.

Each model returns a `Measurement`: the outputs (shapes from docs/outputs.md) and
how long the operation takes in simulated seconds (the lab scales it to wall time).
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Measurement:
    outputs: dict[str, Any]
    duration_s: float  # simulated; 0 for an instrument that answers at once


class InvalidParams(ValueError):
    """The params (or inputs) cannot drive this instrument; the message says why."""


def seeded(
    seed: int, instrument_id: str, params: dict[str, Any], inputs: dict[str, Any]
) -> random.Random:
    """The same lab seed, instrument, params and inputs give the same random stream.

    params.seed, when given, replaces the lab's seed for this operation.
    """
    rest = {k: v for k, v in params.items() if k != "seed"}
    material = json.dumps([params.get("seed", seed), instrument_id, rest, inputs], sort_keys=True)
    return random.Random(int.from_bytes(hashlib.sha256(material.encode()).digest()[:8], "big"))


def number(params: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParams(f"params.{key} must be a number")
    if not low <= value <= high:
        raise InvalidParams(f"params.{key} must be between {low:g} and {high:g}, not {value:g}")
    return float(value)


def input_with(inputs: dict[str, Any], key: str, named: str | None = None) -> dict[str, Any] | None:
    """The dependency outputs holding `key` (the one named `named`, else the first found)."""
    if named is not None:
        found = inputs.get(named)
        if not isinstance(found, dict) or key not in found:
            raise InvalidParams(f"input '{named}' has no '{key}'")
        return found
    return next((out for out in inputs.values() if isinstance(out, dict) and key in out), None)
