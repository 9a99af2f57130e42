"""The instruments of the simulated lab: what each is, how many samples at once, its model."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from laf_simlab.instruments import Measurement, balance, dissolution, hplc, ph_meter

Model = Callable[[random.Random, dict[str, Any], dict[str, Any]], Measurement]


@dataclass(frozen=True)
class Kind:
    kind: str
    model: Model
    parameters_schema: dict[str, Any]


KINDS = {
    "balance": Kind("balance", balance.weigh, balance.SCHEMA),
    "hplc": Kind("hplc", hplc.inject, hplc.SCHEMA),
    "ph_meter": Kind("ph_meter", ph_meter.measure, ph_meter.SCHEMA),
    "dissolution_bath": Kind("dissolution_bath", dissolution.dissolve, dissolution.SCHEMA),
}


@dataclass(frozen=True)
class Spec:
    id: str
    name: str
    kind: str
    capacity: int = 1  # operations at once (a bath has six vessels)


DEMO_LAB = (
    Spec("balance-01", "Analytical balance (simulated)", "balance"),
    Spec("hplc-01", "HPLC with UV detector (simulated)", "hplc"),
    Spec("ph-01", "pH meter (simulated)", "ph_meter"),
    Spec("bath-01", "Dissolution bath, USP apparatus 2 (simulated)", "dissolution_bath", 6),
)
