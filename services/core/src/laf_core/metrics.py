"""A service's Prometheus metrics (prometheus-client), one registry per `Metrics`.

Names are `<prefix>_<name>`: a counter renders as `<prefix>_<name>_total`, a
gauge as `<prefix>_<name>`, a histogram as `<prefix>_<name>_bucket|_sum|_count`.
Labels are keyword arguments; a metric's label names are fixed by its first use.
Every registry also holds the process collectors (CPU, memory, open files, GC).
"""

from __future__ import annotations

from collections.abc import Callable

import prometheus_client
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` series beside each counter

CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST
# Seconds, from a fast hand-off (a few ms) to a long task (an hour).
BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


class Metrics:
    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self.registry = CollectorRegistry()
        prometheus_client.ProcessCollector(registry=self.registry)
        prometheus_client.PlatformCollector(registry=self.registry)
        prometheus_client.GCCollector(registry=self.registry)
        self._counters: dict[str, Counter] = {}
        self._gauges: dict[str, Gauge] = {}
        self._histograms: dict[str, Histogram] = {}

    def _full(self, name: str) -> str:
        return f"{self._prefix}_{name}"

    def inc(self, name: str, by: float = 1.0, **labels: str) -> None:
        counter = self._counters.get(name)
        if counter is None:
            counter = self._counters[name] = Counter(
                self._full(name), name.replace("_", " "), sorted(labels), registry=self.registry
            )
        (counter.labels(**labels) if labels else counter).inc(by)

    def gauge(self, name: str, read: Callable[[], float]) -> None:
        """A gauge read at each scrape (naming one again replaces its reader)."""
        if name in self._gauges:
            self.registry.unregister(self._gauges.pop(name))
        gauge = Gauge(self._full(name), name.replace("_", " "), registry=self.registry)
        gauge.set_function(read)
        self._gauges[name] = gauge

    def set(self, name: str, value: float, **labels: str) -> None:
        """A gauge set by the service (`labels` pick one of its series)."""
        gauge = self._gauges.get(name)
        if gauge is None:
            gauge = self._gauges[name] = Gauge(
                self._full(name), name.replace("_", " "), sorted(labels), registry=self.registry
            )
        (gauge.labels(**labels) if labels else gauge).set(value)

    def observe(self, name: str, value: float, **labels: str) -> None:
        """One observation of a histogram (name it with its unit: `..._seconds`)."""
        histogram = self._histograms.get(name)
        if histogram is None:
            histogram = self._histograms[name] = Histogram(
                self._full(name),
                name.replace("_", " "),
                sorted(labels),
                registry=self.registry,
                buckets=BUCKETS,
            )
        (histogram.labels(**labels) if labels else histogram).observe(value)

    def value(self, name: str, **labels: str) -> float:
        """A counter's value: of the series `labels` pick, summed over the others."""
        counter = self._counters.get(name)
        if counter is None:
            return 0.0
        total = 0.0
        for metric in counter.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total") and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    total += sample.value
        return total

    def render(self) -> str:
        return generate_latest(self.registry).decode()
