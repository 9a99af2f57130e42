"""Executors: how a claimed task is run. Each implements `Executor`.

`run` is the attempt; `recover` finds work an earlier runner on this host left
(a Job, a local process) so that a restarted runner follows it instead of losing
it (for Kubernetes Jobs: any runner of the pool, and again every
LAF_RUNNER_ADOPT_S, see `adopts`); `detach` lets work that outlives the runner keep running when it stops;
`close` frees connections. `BaseExecutor` gives the last three, for executors
that need none of them.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from laf_core.contracts.reports import ClaimedTask
from laf_runner.attempts import AttemptStore
from laf_runner.leases import Leases
from laf_runner.settings import RunnerSettings

Outputs = dict[str, Any]


class TaskFailed(Exception):
    """The task ran and failed; `error` says why, `outputs` keeps what it produced."""

    def __init__(self, error: str, outputs: Outputs | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.outputs = outputs


@dataclass(frozen=True)
class Context:
    runner_id: str
    workdir: str  # parent of the private attempts folder; "" for the default (attempts.py)
    # The runner pool (LAF_RUNNER_POOL): runners that adopt each other's Kubernetes Jobs;
    # "" for this runner alone (only it, restarted, re-attaches to them).
    pool: str = ""
    leases: Leases | None = None  # who follows which Job in the pool (laf_runner.leases)

    @property
    def pool_name(self) -> str:
        return self.pool or self.runner_id

    @cached_property
    def store(self) -> AttemptStore:
        """The attempts' folders (private, checked): where a `local` process keeps its
        files and a runner the results the API has not accepted yet."""
        return AttemptStore.under(self.workdir)


def task_environment() -> dict[str, str]:
    """The environment a task's process starts from: the runner's, without LAF's own
    settings (so no secret reaches a task)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("LAF_")}


Run = Callable[[ClaimedTask, Context], Awaitable[Outputs]]


@dataclass(frozen=True)
class Recovered:
    """Work found after a runner restart (a Job, a local process); `resume` follows it
    to its end, as the attempt's executor. If the attempt ended meanwhile, the runner's
    first heartbeat is refused and the runner cancels `resume`, which stops the work."""

    task: ClaimedTask
    resume: Run


class Executor(Protocol):
    async def run(self, task: ClaimedTask, ctx: Context) -> Outputs:
        """Run one claimed attempt: its outputs, or TaskFailed. Cancelling it stops the work."""
        ...

    adopts: bool

    async def recover(self, ctx: Context) -> list[Recovered]:
        """Attempts an earlier runner of this host left running, to be followed again."""
        ...

    def detach(self) -> None:
        """The runner stops: leave work that outlives it running, for `recover`."""
        ...

    async def close(self) -> None:
        """Free what the executor holds (a client, connections)."""
        ...


class BaseExecutor:
    """`Executor` for work that ends with its runner: nothing to recover, detach or close."""

    adopts = False  # True: `recover` is called periodically, to adopt work of lost peers

    async def recover(self, ctx: Context) -> list[Recovered]:
        return []

    def detach(self) -> None:
        return None

    async def close(self) -> None:
        return None


def load(name: str, settings: RunnerSettings | None = None, webhook_secret: str = "") -> Executor:
    """The executor called `name`; ValueError for one this runner does not have or cannot
    run (`kubernetes` needs a cluster configured and the webhook secret for pod tokens)."""
    from laf_runner.executors import http, local, noop, python

    settings = settings or RunnerSettings()
    if name == "kubernetes":  # imported only where it is served: kubernetes-asyncio is large
        from laf_runner.executors import kubernetes

        return kubernetes.load(settings, webhook_secret)
    builders: dict[str, Callable[[], Executor]] = {
        "noop": noop.NoopExecutor,
        "python": lambda: python.PythonExecutor(settings),
        "local": lambda: local.LocalExecutor(settings.task_user),
        "http": lambda: http.HttpExecutor(settings),
    }
    if name not in builders:
        raise ValueError(
            f"this runner has no executor '{name}' (it has {', '.join([*builders, 'kubernetes'])})"
        )
    return builders[name]()
