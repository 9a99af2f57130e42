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

from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

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
        self._announced = False
        self._broker_ok = False
        self.executors = {
            name: executors.load(name, settings, common.webhook_secret)
            for name in settings.executor_names
        }
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

    @property
    def ready(self) -> bool:
        """Ready once the API knows this runner and while the broker session is up."""
        return self._announced and self._broker_ok

    async def run(self, stop: asyncio.Event) -> None:
        async with ApiClient(self.settings.api_url, self.common.webhook_secret) as api:
            self._api = api
            try:
                await self._reattach()
                await self._announce_first(stop)  # so that "ready" means the API knows us
                self._announced = True
                log.info("runner %s serving %s", self.settings.id, ", ".join(self.executors))
                async with asyncio.TaskGroup() as group:
                    group.create_task(
                        broker.keep_session(
                            self.common.amqp_url,
                            stop,
                            self._subscribe,
                            self._broker_state,
                            "runner",
                        )
                    )
                    group.create_task(self._announce_until(stop))
            finally:
                self._broker_ok = False  # the session closed: no new work comes in
                await self._finish_running(grace_s=10)
                for executor in self.executors.values():
                    close = getattr(executor, "aclose", None)  # e.g. the Kubernetes client
                    if close is not None:
                        await close()

    async def _subscribe(self, connection: AbstractConnection) -> None:
        channel = await connection.channel()
        await broker.declare_topology(channel)
        for name in self.executors:
            await broker.consume(
                channel,
                topology.runner_queue(name),
                self.handle,
                self.metrics,
                prefetch=self.settings.concurrency,
            )
        await self._listen_for_cancels(channel)

    def _broker_state(self, connected: bool) -> None:
        self._broker_ok = connected

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

    async def _reattach(self) -> None:
        """Follow again the work that outlived a restart (Kubernetes Jobs, found by label)."""
        for name, executor in self.executors.items():
            recover = getattr(executor, "recover", None)
            if recover is None:
                continue
            try:
                found = await recover(self.context)
            except Exception:
                log.exception("cannot look for %s work left by an earlier run", name)
                continue
            for item in found:
                key = f"{item.task.task_id}/{item.task.attempt}"
                if key in self._running:
                    continue
                await self._slots.acquire()
                self._running[key] = asyncio.create_task(
                    self._execute(item.task, key, item.resume), name=key
                )

    async def _execute(
        self, task: ClaimedTask, key: str, run: executors.Executor | None = None
    ) -> None:
        """Run one claimed attempt to its report. Cancelled (an operator cancelled the
        workflow, or the runner stops): the executor cleans up and nothing is reported."""
        try:
            beat = asyncio.create_task(self._heartbeat(task, key))
            try:
                report = await self._outcome(task, run)
            finally:
                beat.cancel()
            await self._report(report)
        except asyncio.CancelledError:
            log.info("attempt %s stopped", key)
            self.metrics.inc("attempts_stopped")
            raise
        finally:
            del self._running[key]
            self._slots.release()

    async def _listen_for_cancels(self, channel: AbstractChannel) -> None:
        """Every runner hears every cancel (its own exclusive queue) and stops the
        attempts it runs. A missed one is caught by the heartbeat's 409."""
        exchange = await channel.get_exchange(topology.EVENTS_EXCHANGE)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, "task.cancelled.*")

        async def on_cancel(message: AbstractIncomingMessage) -> None:
            try:
                event = Envelope.model_validate_json(message.body)
            except ValueError:
                return
            self._stop(f"{event.task_id}/{event.attempt}")

        await queue.consume(on_cancel, no_ack=True)

    def _stop(self, key: str) -> None:
        running = self._running.get(key)
        if running is not None:
            log.info("stopping attempt %s: it is no longer running in LAF", key)
            running.cancel()

    async def _outcome(
        self, task: ClaimedTask, run: executors.Executor | None = None
    ) -> dict[str, Any]:
        base = {
            "task_id": str(task.task_id),
            "attempt": task.attempt,
            "runner_id": self.settings.id,
        }
        run = run or self.executors.get(task.executor)
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

    async def _heartbeat(self, task: ClaimedTask, key: str) -> None:
        payload = {
            "type": "heartbeat",
            "task_id": str(task.task_id),
            "attempt": task.attempt,
            "runner_id": self.settings.id,
        }
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            try:
                await self.api.post(TASKS_PATH, payload)
            except Refused:
                self._stop(key)  # cancelled or ended elsewhere: stop working on it
                return
            except TransientError:
                pass

    async def _announce(self) -> bool:
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
            return True
        except (TransientError, ValueError) as exc:
            log.warning("cannot announce runner: %s", exc)
            return False

    async def _announce_first(self, stop: asyncio.Event) -> None:
        """Announce before taking work, so the API never refuses what this runner serves."""
        for delay in delays(0.1, 2.0):
            if stop.is_set() or await self._announce():
                return
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def _announce_until(self, stop: asyncio.Event) -> None:
        """Tell the API which executors this runner serves, every heartbeat_s."""
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.heartbeat_s)
            if not stop.is_set():
                await self._announce()

    async def _finish_running(self, grace_s: float) -> None:
        """On shutdown: let running tasks end for a while, then stop them."""
        if not self._running:
            return
        for executor in self.executors.values():
            detach = getattr(executor, "detach", None)
            if detach is not None:
                detach()  # work that outlives the runner (Jobs) stops being followed; _reattach
        log.info("waiting up to %ss for %d running task(s)", grace_s, len(self._running))
        _, pending = await asyncio.wait(list(self._running.values()), timeout=grace_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
