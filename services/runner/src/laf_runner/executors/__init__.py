"""Executors: how a claimed task is run. Each module has `async def run(task, ctx) -> outputs`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from laf_core.contracts.reports import ClaimedTask
from laf_core.settings import RunnerSettings


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


@dataclass(frozen=True)
class Recovered:
    """Work found after a runner restart (a Job, a local process); `resume` follows it
    to its end, as the attempt's executor. If the attempt ended meanwhile, the runner's
    first heartbeat is refused and the runner cancels `resume`, which stops the work."""

    task: ClaimedTask
    resume: Executor


def load(name: str, settings: RunnerSettings | None = None, webhook_secret: str = "") -> Executor:
    """The executor called `name`; ValueError for one this runner does not have or cannot
    run (`kubernetes` needs a cluster configured and the webhook secret for pod tokens)."""
    from laf_runner.executors import http, local, noop, python

    executors: dict[str, Executor] = {
        "noop": noop.run,
        "python": python.run,
        "local": local.LocalExecutor(),
    }
    if name == "http":
        return http.HttpExecutor(settings or RunnerSettings())
    if name == "kubernetes":
        from laf_runner.executors import kubernetes

        return kubernetes.load(settings or RunnerSettings(), webhook_secret)
    try:
        return executors[name]
    except KeyError:
        raise ValueError(
            f"this runner has no executor '{name}' "
            f"(it has {', '.join([*executors, 'http', 'kubernetes'])})"
        ) from None
