"""Exponential backoff with jitter for reconnect and retry loops."""

from __future__ import annotations

import random
from collections.abc import Iterator


def delays(first: float = 0.1, cap: float = 5.0) -> Iterator[float]:
    """0.1, 0.2, 0.4 … up to `cap` seconds, each scaled by a random 50-100 %."""
    delay = first
    while True:
        yield delay * random.uniform(0.5, 1.0)
        delay = min(cap, delay * 2)
