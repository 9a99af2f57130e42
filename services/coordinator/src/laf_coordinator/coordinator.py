"""The coordinator: starts workflows and owns what needs time or judgement.

It starts submitted workflows, fires retry timers when a failed attempt's
backoff has passed, keeps the dead letters, and reconciles every sweep_s
(DESIGN rule 5): a workflow left pending, a retry whose event was lost, an
attempt past its timeout or whose runner stopped heartbeating, a queued task
whose message is gone, an instrument slot nobody handed on. Every action is a
guarded SQL transition, so several coordinators, or an event handled twice,
change nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import asyncpg
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

from laf_core import broker, topology
from laf_core.contracts.events import Envelope
from laf_core.contracts.workflow import RUNNER_EXECUTORS
from laf_core.db.pool import create_pool_retrying
from laf_core.db.queries import Q
from laf_core.errors import PermanentError
from laf_core.metrics import Metrics
from laf_core.service import wait_any
from laf_core.settings import CommonSettings, CoordinatorSettings

log = logging.getLogger(__name__)
ACTOR = "coordinator"


class Coordinator:
    def __init__(
        self, common: CommonSettings, settings: CoordinatorSettings, metrics: Metrics
    ) -> None:
        self.common = common
        self.settings = settings
        self.metrics = metrics
        self._db_ok = False
        self._pool: asyncpg.Pool | None = None
        self._broker_ok = False
        self._channel: AbstractChannel | None = None
        self._next_retry: datetime | None = None
        self._retry_changed = asyncio.Event()
        metrics.gauge("ready", lambda: float(self.ready))

    @property
    def ready(self) -> bool:
        """Ready while both PostgreSQL and RabbitMQ answer."""
        return self._db_ok and self._broker_ok

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("coordinator not connected")
        return self._pool

    async def run(self, stop: asyncio.Event) -> None:
        self._pool = await create_pool_retrying(self.common.database_url, stop, max_size=5)
        self._db_ok = True
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(
                    broker.keep_session(
                        self.common.amqp_url,
                        stop,
                        self._subscribe,
                        self._broker_state,
                        "coordinator",
                    )
                )
                group.create_task(self._timers(stop))
        finally:
            self._db_ok = False
            await self.pool.close()

    async def _subscribe(self, connection: AbstractConnection) -> None:
        self._channel = await connection.channel()
        await broker.declare_topology(self._channel)
        await broker.consume(
            self._channel,
            topology.COORDINATOR_QUEUE,
            self.handle,
            self.metrics,
            prefetch=self.settings.prefetch,
        )
        dead_channel = await connection.channel()
        await dead_channel.set_qos(prefetch_count=16)
        dead_letters = await dead_channel.get_queue(topology.DEAD_LETTER_QUEUE, ensure=False)
        await dead_letters.consume(self.keep_dead_letter)
        log.info("coordinator consuming %s", topology.COORDINATOR_QUEUE)

    def _broker_state(self, connected: bool) -> None:
        self._broker_ok = connected

    async def handle(self, event: Envelope, _message: AbstractIncomingMessage) -> None:
        """One event from laf.coordinator. Idempotent; order does not matter."""
        if event.type == "workflow.pending":
            if event.workflow_id is None:
                raise PermanentError("workflow.pending without workflow_id")
            started = await self.pool.fetchval(Q.start_workflow, event.workflow_id, ACTOR)
            self.metrics.inc("workflows_started" if started else "duplicate_events")
        elif event.type == "task.pending":
            retry_at = event.data.get("retry_at")
            if retry_at:
                self._schedule_retry(datetime.fromisoformat(retry_at))
        else:
            raise PermanentError(f"the coordinator does not handle {event.type!r}")

    async def keep_dead_letter(self, message: AbstractIncomingMessage) -> None:
        """Store a dead letter in PostgreSQL (GET /api/admin/dead-letters), then ack it.
        Its reason was logged once, by the consumer that gave up on it."""
        headers = {k: str(v) for k, v in (message.headers or {}).items()}
        try:
            await self.pool.execute(
                Q.insert_dead_letter,
                message.message_id,
                message.routing_key,
                headers.get("x-laf-queue") or _death_queue(message),
                headers.get(topology.ERROR_HEADER) or _death_reason(message),
                headers,
                message.body.decode(errors="replace"),
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            await asyncio.sleep(1)
            await message.nack(requeue=True)
            return
        await message.ack()
        self.metrics.inc("dead_letters_kept")

    def _schedule_retry(self, when: datetime) -> None:
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if self._next_retry is None or when < self._next_retry:
            self._next_retry = when
            self._retry_changed.set()

    async def _timers(self, stop: asyncio.Event) -> None:
        """Fire due retries at their time; sweep for missed work every sweep_s."""
        last_sweep = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            wait = self.settings.sweep_s
            if self._next_retry is not None:
                wait = min(wait, max(0.0, (self._next_retry - datetime.now(UTC)).total_seconds()))
            self._retry_changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wait_any(stop, self._retry_changed), wait)
            if stop.is_set():
                return
            try:
                if self._next_retry is not None and self._next_retry <= datetime.now(UTC):
                    self._next_retry = None
                    await self._queue_due_retries()
                if loop.time() - last_sweep >= self.settings.sweep_s:
                    last_sweep = loop.time()
                    await self.sweep()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                self._db_ok = False
                log.warning("sweep failed (%s); the next one retries", exc)
            else:
                self._db_ok = True

    async def _queue_due_retries(self) -> None:
        queued = await self.pool.fetchval(Q.queue_due_retries, ACTOR)
        self.metrics.inc("retries_queued", queued)

    async def sweep(self) -> None:
        """The reconciler: act on whatever the rows say needs doing now."""
        await self._queue_due_retries()
        next_retry = await self.pool.fetchval(Q.next_retry_at)
        if next_retry is not None:
            self._schedule_retry(next_retry)
        for row in await self.pool.fetch(Q.pending_workflows_missed, self.settings.start_grace_s):
            if await self.pool.fetchval(Q.start_workflow, row["id"], ACTOR):
                log.warning("started workflow %s found pending by the sweep", row["id"])
                self.metrics.inc("workflows_started_by_sweep")
        stuck = await self.pool.fetchval(
            Q.fail_stuck, self.settings.heartbeat_timeout_s, self.settings.timeout_grace_s, ACTOR
        )
        if stuck:
            log.warning(
                "failed %d attempt(s) that will never report (timed out or runner lost)", stuck
            )
            self.metrics.inc("attempts_failed_stuck", stuck)
        if granted := await self.pool.fetchval(Q.grant_waiting):
            self.metrics.inc("slots_granted_by_sweep", granted)
        await self._redispatch_orphans()

    async def _redispatch_orphans(self) -> None:
        """Announce again queued tasks whose executor's queue is empty: their message is gone."""
        if self._channel is None or self._channel.is_closed:
            return
        for executor in RUNNER_EXECUTORS:
            try:
                queue = await self._channel.declare_queue(
                    topology.runner_queue(executor), passive=True
                )
            except Exception as exc:  # broker trouble: the next sweep looks again
                log.warning("cannot inspect %s: %s", topology.runner_queue(executor), exc)
                return
            if queue.declaration_result.message_count:
                continue
            if count := await self.pool.fetchval(
                Q.redispatch, executor, self.settings.redispatch_after_s
            ):
                log.warning("announced %d queued %s task(s) again", count, executor)
                self.metrics.inc("tasks_redispatched", count)


def _death(message: AbstractIncomingMessage) -> dict[str, object]:
    deaths = (message.headers or {}).get("x-death")
    return deaths[0] if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict) else {}


def _death_queue(message: AbstractIncomingMessage) -> str | None:
    queue = _death(message).get("queue")
    return str(queue) if queue else None


def _death_reason(message: AbstractIncomingMessage) -> str:
    reason = _death(message).get("reason")
    return f"dead-lettered by RabbitMQ: {reason}" if reason else "unknown"
