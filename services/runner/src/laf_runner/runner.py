"""A runner: competing consumer of laf.runner.<executor> queues.

For each `task.queued` event it claims the attempt through the API (a
`started` report, accepted once per attempt), acks the message at once
(DESIGN rule 4: long tasks don't hold messages), runs the task, heartbeats
while it runs, and posts the signed result. Results are posted until the API
accepts or refuses them; an API outage only delays them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any

from aio_pika.abc import AbstractIncomingMessage

from laf_core import broker, topology
from laf_core.backoff import delays
from laf_core.contracts.events import Envelope
from laf_core.contracts.reports import ClaimedTask
from laf_core.errors import PermanentError, TransientError
from laf_core.metrics import Metrics
from laf_core.settings import CommonSettings, RunnerSettings
from laf_runner import executors
from laf_runner.api_client import ApiClient, Refused

log = logging.getLogger(__name__)
TASKS_PATH = "/api/webhooks/tasks"


class Runner:
    def __init__(self, common: CommonSettings, settings: RunnerSettings, metrics: Metrics) -> None:
        self.common = common
        self.settings = settings
        self.metrics = metrics
        self.ready = False
        self.executors = {name: executors.load(name) for name in settings.executor_names}
        self.context = executors.Context(runner_id=settings.id, workdir=settings.workdir)
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._running: dict[str, asyncio.Task[None]] = {}
        self._api: ApiClient | None = None
        metrics.gauge("running_tasks", lambda: float(len(self._running)))
        metrics.gauge("ready", lambda: float(self.ready))

    @property
    def api(self) -> ApiClient:
        assert self._api is not None
        return self._api

    async def run(self, stop: asyncio.Event) -> None:
        async with ApiClient(self.settings.api_url, self.common.webhook_secret) as api:
            self._api = api
            amqp = await broker.connect(self.common.amqp_url, stop)
            try:
                channel = await amqp.channel()
                await broker.declare_topology(channel)
                for name in self.executors:
                    await broker.consume(
                        channel,
                        topology.runner_queue(name),
                        self.handle,
                        self.metrics,
                        prefetch=self.settings.concurrency,
                    )
                self.ready = True
                log.info("runner %s serving %s", self.settings.id, ", ".join(self.executors))
                await self._announce_until(stop)
            finally:
                self.ready = False
                with contextlib.suppress(Exception):
                    await amqp.close()  # stop taking work first
                await self._finish_running(grace_s=10)

    async def handle(self, event: Envelope, _message: AbstractIncomingMessage) -> None:
        """Claim the queued attempt; returning acks the message."""
        if event.type != "task.queued" or event.task_id is None or event.attempt is None:
            raise PermanentError(f"a runner cannot handle {event.type!r} without task and attempt")
        await self._slots.acquire()
        try:
            answer = await self.api.post(
                TASKS_PATH,
                {
                    "type": "started",
                    "task_id": str(event.task_id),
                    "attempt": event.attempt,
                    "runner_id": self.settings.id,
                },
            )
        except Refused as exc:
            self._slots.release()
            self.metrics.inc("claims_refused")
            log.debug("claim of %s refused: %s", event.task_id, exc)
            return
        except BaseException:
            self._slots.release()
            raise
        task = ClaimedTask.model_validate(answer)
        key = f"{task.task_id}/{task.attempt}"
        self._running[key] = asyncio.create_task(self._execute(task, key), name=key)

    async def _execute(self, task: ClaimedTask, key: str) -> None:
        beat = asyncio.create_task(self._heartbeat(task))
        try:
            report = await self._outcome(task)
        finally:
            beat.cancel()
        try:
            await self._report(report)
        finally:
            del self._running[key]
            self._slots.release()

    async def _outcome(self, task: ClaimedTask) -> dict[str, Any]:
        base = {
            "task_id": str(task.task_id),
            "attempt": task.attempt,
            "runner_id": self.settings.id,
        }
        run = self.executors.get(task.executor)
        try:
            if run is None:
                raise executors.TaskFailed(
                    f"runner {self.settings.id} has no executor '{task.executor}'"
                )
            outputs = await asyncio.wait_for(run(task, self.context), task.timeout_s)
        except executors.TaskFailed as exc:
            self.metrics.inc("tasks_failed")
            return {**base, "type": "failed", "error": exc.error, "outputs": exc.outputs}
        except TimeoutError:
            self.metrics.inc("tasks_timed_out")
            return {**base, "type": "failed", "error": f"timed out after {task.timeout_s:g}s"}
        except Exception as exc:  # a bug in an executor must still end the attempt
            log.exception("executor %s crashed on %s", task.executor, task.task_id)
            return {
                **base,
                "type": "failed",
                "error": f"executor error: {type(exc).__name__}: {exc}",
            }
        self.metrics.inc("tasks_succeeded")
        return {**base, "type": "succeeded", "outputs": outputs}

    async def _report(self, report: dict[str, Any]) -> None:
        for delay in delays(0.2, 10.0):
            try:
                await self.api.post(TASKS_PATH, report)
                return
            except Refused as exc:
                log.warning("result for %s refused: %s", report["task_id"], exc)
                return
            except TransientError as exc:
                log.warning(
                    "cannot report %s yet (%s); retrying in %.1fs", report["task_id"], exc, delay
                )
                await asyncio.sleep(delay)

    async def _heartbeat(self, task: ClaimedTask) -> None:
        payload = {
            "type": "heartbeat",
            "task_id": str(task.task_id),
            "attempt": task.attempt,
            "runner_id": self.settings.id,
        }
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            with contextlib.suppress(TransientError, Refused):
                await self.api.post(TASKS_PATH, payload)

    async def _announce_until(self, stop: asyncio.Event) -> None:
        """Tell the API which executors this runner serves, every heartbeat_s."""
        while not stop.is_set():
            try:
                await self.api.post(
                    "/api/webhooks/runners",
                    {
                        "runner_id": self.settings.id,
                        "executors": list(self.executors),
                        "hostname": socket.gethostname(),
                        "concurrency": self.settings.concurrency,
                        "running": len(self._running),
                    },
                )
            except (TransientError, ValueError) as exc:
                log.warning("cannot announce runner: %s", exc)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.heartbeat_s)

    async def _finish_running(self, grace_s: float) -> None:
        """On shutdown: let running tasks end for a while, then stop them."""
        if not self._running:
            return
        log.info("waiting up to %ss for %d running task(s)", grace_s, len(self._running))
        _, pending = await asyncio.wait(list(self._running.values()), timeout=grace_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
