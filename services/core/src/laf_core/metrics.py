"""A minimal Prometheus text exposition: counters and gauges, no dependency."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable


class Metrics:
    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._counters: defaultdict[str, float] = defaultdict(float)
        self._gauges: dict[str, Callable[[], float]] = {}

    def inc(self, name: str, by: float = 1.0) -> None:
        self._counters[name] += by

    def gauge(self, name: str, read: Callable[[], float]) -> None:
        self._gauges[name] = read

    def value(self, name: str) -> float:
        return self._counters[name]

    def render(self) -> str:
        lines = []
        for name, value in sorted(self._counters.items()):
            full = f"{self._prefix}_{name}_total"
            lines += [f"# TYPE {full} counter", f"{full} {value:g}"]
        for name, read in sorted(self._gauges.items()):
            full = f"{self._prefix}_{name}"
            lines += [f"# TYPE {full} gauge", f"{full} {read():g}"]
        return "\n".join(lines) + "\n"
