"""The simulated lab's state: instruments, their operations, and injected faults.

An operation's data is computed when it starts (deterministic: see
instruments.seeded) and revealed when its scaled run time has passed. Each
instrument runs at most `capacity` operations at once; others wait `queued`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

from laf_simlab.catalog import DEMO_LAB, KINDS, Spec
from laf_simlab.instruments import InvalidParams, Measurement, seeded

log = logging.getLogger(__name__)
KEEP_OPERATIONS = 2000
FINAL = {"succeeded", "failed", "aborted"}
FaultMode = Literal["ok", "fail", "offline"]


class UnknownInstrument(KeyError):
    pass


class UnknownOperation(KeyError):
    pass


class Offline(Exception):
    pass


@dataclass
class Fault:
    mode: FaultMode = "ok"
    message: str = ""
    remaining: int | None = None  # operations left to fail; None: until cleared


@dataclass
class Instrument:
    spec: Spec
    slots: asyncio.Semaphore
    fault: Fault = field(default_factory=Fault)
    active: set[str] = field(default_factory=set)

    @property
    def status(self) -> str:
        if self.fault.mode == "offline":
            return "offline"
        return "busy" if self.active else "idle"


@dataclass
class Operation:
    id: str
    instrument: str
    measurement: Measurement
    wall_s: float
    status: str = "queued"
    error: str | None = None
    created_at: float = field(default_factory=time.time)
    started: float | None = None  # monotonic
    runner: asyncio.Task[None] | None = None

    def view(self, poll_after_s: float) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "instrument": self.instrument, "status": self.status}
        if self.status == "running" and self.started is not None:
            elapsed = time.monotonic() - self.started
            body["progress"] = round(min(1.0, elapsed / self.wall_s) if self.wall_s else 1.0, 3)
        if self.status not in FINAL:
            body["poll_after_s"] = poll_after_s
        if self.status == "succeeded":
            body["outputs"] = self.measurement.outputs
        if self.error:
            body["error"] = self.error
        return body


class Lab:
    def __init__(self, seed: int, time_scale: float, specs: tuple[Spec, ...] = DEMO_LAB) -> None:
        self.seed = seed
        self.time_scale = time_scale
        self.instruments = {s.id: Instrument(s, asyncio.Semaphore(s.capacity)) for s in specs}
        self.operations: OrderedDict[str, Operation] = OrderedDict()
        self._by_key: dict[tuple[str, str], str] = {}
        self._ids = itertools.count(1)

    def instrument(self, instrument_id: str) -> Instrument:
        try:
            return self.instruments[instrument_id]
        except KeyError:
            raise UnknownInstrument(instrument_id) from None

    def operation(self, instrument_id: str, operation_id: str) -> Operation:
        op = self.operations.get(operation_id)
        if op is None or op.instrument != instrument_id:
            raise UnknownOperation(operation_id)
        return op

    def poll_after_s(self, op: Operation) -> float:
        return round(min(2.0, max(0.05, op.wall_s / 20)), 3)

    def start(
        self, instrument_id: str, params: dict[str, Any], inputs: dict[str, Any], key: str | None
    ) -> Operation:
        """Start (or, for a repeated Idempotency-Key, return) an operation."""
        instrument = self.instrument(instrument_id)
        if key is not None and (instrument_id, key) in self._by_key:
            return self.operations[self._by_key[(instrument_id, key)]]
        if instrument.fault.mode == "offline":
            raise Offline(instrument.fault.message or f"{instrument_id} is offline")
        model = KINDS[instrument.spec.kind].model
        rng = seeded(self.seed, instrument_id, params, inputs)
        measurement = model(rng, params, inputs)  # InvalidParams propagates
        op = Operation(
            id=f"op-{next(self._ids):06d}",
            instrument=instrument_id,
            measurement=measurement,
            wall_s=measurement.duration_s * self.time_scale,
        )
        self._remember(op, key)
        if measurement.duration_s == 0 and instrument.fault.mode == "ok":
            op.status = "succeeded"  # answers at once, like a pH meter's reading
            return op
        op.runner = asyncio.create_task(self._run(instrument, op), name=op.id)
        return op

    async def _run(self, instrument: Instrument, op: Operation) -> None:
        async with instrument.slots:
            if op.status in FINAL:
                return
            op.status, op.started = "running", time.monotonic()
            instrument.active.add(op.id)
            try:
                await asyncio.sleep(op.wall_s)
                fault = instrument.fault
                if fault.mode == "fail":
                    op.status, op.error = "failed", fault.message or "instrument error"
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            instrument.fault = Fault()
                else:
                    op.status = "succeeded"
                log.info("%s on %s %s", op.id, op.instrument, op.status)
            finally:
                instrument.active.discard(op.id)

    def abort(self, instrument_id: str, operation_id: str) -> Operation:
        op = self.operation(instrument_id, operation_id)
        if op.status not in FINAL:
            self._stop(op, "aborted", "aborted on request")
        return op

    def set_fault(
        self, instrument_id: str, mode: FaultMode, message: str, count: int | None
    ) -> Instrument:
        instrument = self.instrument(instrument_id)
        instrument.fault = Fault(mode, message, count) if mode != "ok" else Fault()
        if mode == "offline":
            for op_id in list(instrument.active):
                self._stop(self.operations[op_id], "failed", message or "instrument went offline")
        log.warning("fault on %s: %s %s", instrument_id, mode, message)
        return instrument

    def _stop(self, op: Operation, status: str, error: str) -> None:
        op.status, op.error = status, error
        if op.runner is not None:
            op.runner.cancel()

    def _remember(self, op: Operation, key: str | None) -> None:
        self.operations[op.id] = op
        if key is not None:
            self._by_key[(op.instrument, key)] = op.id
        while len(self.operations) > KEEP_OPERATIONS:
            old_id, old = self.operations.popitem(last=False)
            if old.runner is not None and not old.runner.done():
                self.operations[old_id] = old  # never forget a running one
                self.operations.move_to_end(old_id, last=False)
                break
        if len(self._by_key) > 2 * KEEP_OPERATIONS:
            self._by_key = {k: v for k, v in self._by_key.items() if v in self.operations}

    async def close(self) -> None:
        runners = [
            op.runner for op in self.operations.values() if op.runner and not op.runner.done()
        ]
        for runner in runners:
            runner.cancel()
        await asyncio.gather(*runners, return_exceptions=True)


__all__ = ["InvalidParams", "Lab", "Offline", "UnknownInstrument", "UnknownOperation"]
