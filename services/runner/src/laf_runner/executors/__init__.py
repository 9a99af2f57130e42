"""Executors: how a claimed task is run. Each module has `async def run(task, ctx) -> outputs`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from laf_core.contracts.reports import ClaimedTask


class TaskFailed(Exception):
    """The task ran and failed; `error` says why, `outputs` keeps what it produced."""

    def __init__(self, error: str, outputs: dict[str, Any] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.outputs = outputs


@dataclass(frozen=True)
class Context:
    runner_id: str
    workdir: str  # parent folder for scratch space; "" for the system temp


Executor = Callable[[ClaimedTask, Context], Awaitable[dict[str, Any]]]


def load(name: str) -> Executor:
    """The executor called `name`; ValueError for one this runner does not have."""
    from laf_runner.executors import local, noop, python

    executors: dict[str, Executor] = {"noop": noop.run, "python": python.run, "local": local.run}
    try:
        return executors[name]
    except KeyError:
        raise ValueError(
            f"this runner has no executor '{name}' (it has {', '.join(executors)})"
        ) from None
