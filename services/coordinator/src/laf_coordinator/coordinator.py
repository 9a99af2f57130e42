"""The coordinator: owns what needs time or judgement.

It starts a workflow left pending (the API starts each in its submit's
transaction; `workflow.pending` comes only from another writer), fires retry
timers when a failed attempt's backoff has passed, keeps the dead letters, and
reconciles every sweep_s (DESIGN rule 5): a workflow left pending, a retry whose
event was lost, an attempt past its timeout or whose runner stopped
heartbeating, a queued task whose message is gone, an instrument slot nobody
handed on. Every action is a
guarded SQL transition, so several coordinators, or an event handled twice,
change nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

import asyncpg
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage
from opentelemetry.trace import SpanKind

from laf_coordinator.dead_letters import DeadLetterRow
from laf_coordinator.settings import CoordinatorSettings
from laf_core import broker, telemetry, topology
from laf_core.aio import sleep
from laf_core.backoff import delays
from laf_core.contracts.events import Envelope
from laf_core.contracts.states import RUNNER_EXECUTORS
from laf_core.db.pool import create_pool_retrying
from laf_core.db.queries import Q
from laf_core.errors import PermanentError, is_transient
from laf_core.metrics import Metrics
from laf_core.settings import CommonSettings

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
        with telemetry.tracer().start_as_current_span(
            f"laf.coordinator {event.type}",
            kind=SpanKind.CONSUMER,
            attributes=telemetry.task_attributes(
                event.workflow_id,
                event.data.get("name") if event.task_id else None,
                event.attempt,
                event.data.get("executor"),
            ),
        ):
            await self._handle(event)

    async def _handle(self, event: Envelope) -> None:
        if event.type == "workflow.pending":
            if event.workflow_id is None:
                raise PermanentError("workflow.pending without workflow_id")
            started = await self.pool.fetchval(Q.start_workflow, event.workflow_id, ACTOR)
            self.metrics.inc("workflows_started" if started else "duplicate_events")
            telemetry.annotate(outcome="started" if started else "duplicate")
        elif event.type == "task.pending":
            retry_at = event.data.get("retry_at")
            if retry_at:
                self._schedule_retry(datetime.fromisoformat(retry_at))
        else:
            raise PermanentError(f"the coordinator does not handle {event.type!r}")

    async def keep_dead_letter(self, message: AbstractIncomingMessage) -> None:
        """Store a dead letter in PostgreSQL (GET /api/admin/dead-letters), then ack it.
        Its reason was logged once, by the consumer that gave up on it. It is stored
        escaped and bounded (dead_letters.py); while the database is down it waits here;
        one the database still refuses is logged once and dropped with a counter, never
        handed back to be redelivered forever."""
        row = DeadLetterRow.of(message)
        for delay in delays(0.5, 5.0):
            try:
                await self.pool.execute(Q.insert_dead_letter, *row.values())
            except Exception as exc:
                if is_transient(exc):
                    if message.channel.is_closed:
                        return  # the broker hands it to the next session
                    await asyncio.sleep(delay)
                    continue
                log.error(
                    "dropped dead letter %s from %s: it cannot be stored (%s: %s)",
                    row.message_id,
                    row.queue,
                    type(exc).__name__,
                    exc,
                )
                self.metrics.inc("dead_letters_dropped")
                await message.ack()
                return
            break
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
            await sleep(wait, stop, self._retry_changed)
            if stop.is_set():
                return
            try:
                if self._next_retry is not None and self._next_retry <= datetime.now(UTC):
                    self._next_retry = None
                    await self._queue_due_retries()
                if loop.time() - last_sweep >= self.settings.sweep_s:
                    last_sweep = loop.time()
                    await self.sweep()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self._db_ok = False
                log.warning("sweep failed (%s); the next one retries", exc)
            else:
                self._db_ok = True

    async def _queue_due_retries(self) -> None:
        queued = await self.pool.fetchval(Q.queue_due_retries, ACTOR)
        self.metrics.inc("retries_queued", queued)

    async def sweep(self) -> dict[str, int]:
        """The reconciler: act on whatever the rows say needs doing now. Every repair is
        counted (metrics, by kind) and each sweep that repaired anything logs one line
        with the counts; returns them."""
        began = time.time_ns()
        await self._queue_due_retries()
        next_retry = await self.pool.fetchval(Q.next_retry_at)
        if next_retry is not None:
            self._schedule_retry(next_retry)
        repairs: dict[str, int] = {}
        started = []
        for row in await self.pool.fetch(Q.pending_workflows_missed, self.settings.start_grace_s):
            with telemetry.workflow_step("laf.sweep start_workflow", row["id"]):
                if await self.pool.fetchval(Q.start_workflow, row["id"], ACTOR):
                    started.append(str(row["id"]))
        repairs["workflows_started_by_sweep"] = len(started)
        repairs["attempts_failed_stuck"] = await self.pool.fetchval(
            Q.fail_stuck, self.settings.heartbeat_timeout_s, self.settings.timeout_grace_s, ACTOR
        )
        repairs["slots_granted_by_sweep"] = await self.pool.fetchval(Q.grant_waiting)
        repairs["tasks_redispatched"] = await self._redispatch_orphans()
        done = {kind: n for kind, n in repairs.items() if n}
        for kind, n in done.items():
            self.metrics.inc(kind, n)
        if done:
            self.metrics.inc("repair_batches")
            log.warning(
                "reconciler repaired %s",
                ", ".join(f"{kind}={n}" for kind, n in sorted(done.items())),
                extra={"repairs": done, "workflows_started": started[:20]},
            )
            if telemetry.enabled():  # a sweep that repaired something is worth a span
                telemetry.tracer().start_span(
                    "laf.sweep",
                    start_time=began,
                    attributes={f"laf.{kind}": n for kind, n in done.items()},
                ).end()
        await self._measure_slots()
        return done

    async def _measure_slots(self) -> None:
        """Each instrument's slots in use, for /metrics."""
        for row in await self.pool.fetch(Q.instrument_slots):
            self.metrics.set("instrument_slots_in_use", float(row["in_use"]), instrument=row["id"])
            self.metrics.set("instrument_slots", float(row["capacity"]), instrument=row["id"])

    async def _redispatch_orphans(self) -> int:
        """Announce again queued tasks whose executor's queue is empty: their message is gone.
        Returns how many."""
        if self._channel is None or self._channel.is_closed:
            return 0
        total = 0
        for executor in RUNNER_EXECUTORS:
            try:
                queue = await self._channel.declare_queue(
                    topology.runner_queue(executor), passive=True
                )
            except Exception as exc:  # broker trouble: the next sweep looks again
                log.warning("cannot inspect %s: %s", topology.runner_queue(executor), exc)
                return total
            if queue.declaration_result.message_count:
                continue  # messages wait there: a queued task's may be among them
            total += await self.pool.fetchval(
                Q.redispatch, executor, self.settings.redispatch_after_s
            )
        return total
