"""The coordinator: starts workflows and owns what needs time or judgement.

Today that is starting submitted workflows, firing retry timers when a
failed attempt's backoff has passed, and a periodic sweep that catches
whatever an event did not (a workflow left pending, a retry whose event was
lost). Every action is a guarded SQL transition, so running several
coordinators, or handling an event twice, changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import asyncpg
from aio_pika.abc import AbstractIncomingMessage

from laf_core import broker, topology
from laf_core.contracts.events import Envelope
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
        self.ready = False
        self._pool: asyncpg.Pool | None = None
        self._next_retry: datetime | None = None
        self._retry_changed = asyncio.Event()
        metrics.gauge("ready", lambda: float(self.ready))

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("coordinator not connected")
        return self._pool

    async def run(self, stop: asyncio.Event) -> None:
        self._pool = await create_pool_retrying(self.common.database_url, stop, max_size=5)
        amqp = await broker.connect(self.common.amqp_url, stop)
        try:
            channel = await amqp.channel()
            await broker.declare_topology(channel)
            await broker.consume(
                channel,
                topology.COORDINATOR_QUEUE,
                self.handle,
                self.metrics,
                prefetch=self.settings.prefetch,
            )
            self.ready = True
            log.info("coordinator consuming %s", topology.COORDINATOR_QUEUE)
            await self._timers(stop)
        finally:
            self.ready = False
            with contextlib.suppress(Exception):
                await amqp.close()
            await self.pool.close()

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
            now = datetime.now(UTC)
            wait = self.settings.sweep_s
            if self._next_retry is not None:
                wait = min(wait, max(0.0, (self._next_retry - now).total_seconds()))
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
                self.ready = False
                log.warning("sweep failed (%s); the next one retries", exc)
            else:
                self.ready = True

    async def _queue_due_retries(self) -> None:
        queued = await self.pool.fetchval(Q.queue_due_retries, ACTOR)
        self.metrics.inc("retries_queued", queued)

    async def sweep(self) -> None:
        """The safety net: act on whatever the rows say needs doing now."""
        await self._queue_due_retries()
        next_retry = await self.pool.fetchval(Q.next_retry_at)
        if next_retry is not None:
            self._schedule_retry(next_retry)
        for row in await self.pool.fetch(Q.pending_workflows_missed, self.settings.start_grace_s):
            if await self.pool.fetchval(Q.start_workflow, row["id"], ACTOR):
                log.warning("started workflow %s found pending by the sweep", row["id"])
                self.metrics.inc("workflows_started_by_sweep")
