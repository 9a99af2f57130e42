"""The outbox relay: PostgreSQL `outbox` rows -> RabbitMQ `laf.events`.

NOTIFY is only the doorbell (DESIGN §1 rule 2): the relay drains the outbox
on start-up, whenever `laf_outbox` rings and on a short poll, so events
written while no relay ran are still delivered. A batch is published
concurrently with publisher confirms, and its rows are deleted in the same
transaction only after every confirm arrived; a failed publish rolls the
batch back to be sent again (consumers are idempotent). `FOR UPDATE SKIP
LOCKED` lets several relays share the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

import aio_pika
import asyncpg
from opentelemetry.trace import SpanKind

from laf_core import broker, logs, telemetry, topology
from laf_core.aio import sleep
from laf_core.backoff import delays
from laf_core.db.pool import connect, create_pool
from laf_core.db.queries import Q
from laf_core.metrics import Metrics
from laf_core.settings import CommonSettings
from laf_core.tracing import traceparent
from laf_listener.settings import ListenerSettings

log = logging.getLogger(__name__)
CHANNEL = "laf_outbox"
BACKLOG_EVERY_S = 1.0  # not a query per drain: ~a fifth of the relay's round trips
PUBLISH_TIMEOUT_S = 30.0  # a batch not confirmed by then is rolled back and sent again


def to_message(row: asyncpg.Record, traceparent_value: str = "") -> aio_pika.Message:
    """The event as a message; its `traceparent` is the relay's span for it when tracing
    is on, else the one derived from its ids (laf_core.tracing)."""
    body = {
        "id": str(row["event_id"]),
        "type": row["event_type"],
        "occurred_at": row["occurred_at"].isoformat(),
        "workflow_id": str(row["workflow_id"]) if row["workflow_id"] else None,
        "task_id": str(row["task_id"]) if row["task_id"] else None,
        "attempt": row["attempt"],
        "data": row["data"],
    }
    headers: dict[str, Any] = {}
    if row["workflow_id"]:
        headers["traceparent"] = traceparent_value or traceparent(
            row["workflow_id"], row["task_id"]
        )
    return aio_pika.Message(
        body=_json(body),
        message_id=str(row["event_id"]),
        type=row["event_type"],
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        headers=headers,
    )


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class Relay:
    def __init__(
        self, common: CommonSettings, settings: ListenerSettings, metrics: Metrics
    ) -> None:
        self.common = common
        self.settings = settings
        self.metrics = metrics
        self.ready = False
        self._wake = asyncio.Event()
        self._backlog_due = 0.0
        metrics.gauge("ready", lambda: float(self.ready))

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until stopped; any failure tears the session down and starts over."""
        backoff = delays(0.2, 5.0)
        while not stop.is_set():
            try:
                await self._session(stop)
            except Exception as exc:
                self.ready = False
                delay = next(backoff)
                log.warning(
                    "relay session ended (%s: %s); reconnecting in %.1fs",
                    type(exc).__name__,
                    exc,
                    delay,
                )
                await sleep(delay, stop)
            else:
                backoff = delays(0.2, 5.0)

    async def _session(self, stop: asyncio.Event) -> None:
        async with contextlib.AsyncExitStack() as resources:
            pool = await create_pool(self.common.database_url, min_size=1, max_size=2)
            resources.push_async_callback(_close_quietly, pool.close())
            listen = await connect(self.common.database_url)
            resources.push_async_callback(_close_quietly, listen.close())
            amqp = await broker.connect(self.common.amqp_url)
            resources.push_async_callback(_close_quietly, amqp.close())
            await listen.add_listener(CHANNEL, self._ring)
            channel = await amqp.channel(publisher_confirms=True, on_return_raises=True)
            await broker.declare_topology(channel)
            exchange = await channel.get_exchange(topology.EVENTS_EXCHANGE)
            self.ready = True
            try:
                log.info("relay connected; draining the outbox")
                while not stop.is_set():
                    self._wake.clear()
                    while await self.drain_once(pool, exchange) == self.settings.batch_size:
                        pass
                    if time.monotonic() >= self._backlog_due:  # for /metrics: once a second
                        await self.measure_backlog(pool)
                        self._backlog_due = time.monotonic() + BACKLOG_EVERY_S
                    if listen.is_closed() or amqp.is_closed or not amqp.connected.is_set():
                        raise ConnectionError("a connection was lost")
                    await sleep(self.settings.poll_s, self._wake, stop)
            finally:
                self.ready = False

    def _ring(self, *_: object) -> None:
        self._wake.set()

    async def drain_once(self, pool: asyncpg.Pool, exchange: aio_pika.abc.AbstractExchange) -> int:
        """Publish one batch and delete it after the broker confirmed all of it."""
        async with pool.acquire() as conn, conn.transaction():
            rows = sorted(await conn.fetch(Q.outbox_take, self.settings.batch_size), key=_id)
            if not rows:
                return 0
            async with asyncio.timeout(PUBLISH_TIMEOUT_S):  # one for the batch, not one each
                await asyncio.gather(*(self._publish(exchange, row) for row in rows))
        self.metrics.inc("events_published", len(rows))
        now = datetime.now(UTC)
        for row in rows:
            lag = (now - row["occurred_at"]).total_seconds()
            self.metrics.observe("relay_lag_seconds", max(lag, 0.0))
            if log.isEnabledFor(logging.INFO):
                _log_change(row)
        return len(rows)

    async def _publish(self, exchange: aio_pika.abc.AbstractExchange, row: asyncpg.Record) -> None:
        """Publish one event: a span (child of the span that wrote it) when it is part of
        a workflow and tracing is on."""
        key = row["routing_key"]
        parent = (
            telemetry.parent_from(row["traceparent"], row["workflow_id"])
            if telemetry.enabled()
            else None
        )
        if parent is None:
            await exchange.publish(
                to_message(row), routing_key=key, mandatory=topology.must_route(key)
            )
            return
        data = row["data"] or {}
        with telemetry.tracer().start_as_current_span(
            f"laf.relay {row['event_type']}",
            context=parent,
            kind=SpanKind.PRODUCER,
            attributes={
                **telemetry.task_attributes(
                    row["workflow_id"],
                    data.get("name") if row["task_id"] else None,
                    row["attempt"],
                    data.get("executor"),
                    data.get("instrument"),
                ),
                "messaging.system": "rabbitmq",
                "messaging.destination.name": topology.EVENTS_EXCHANGE,
                "messaging.rabbitmq.destination.routing_key": key,
                "messaging.message.id": str(row["event_id"]),
            },
        ):
            await exchange.publish(
                to_message(row, telemetry.current_traceparent()),
                routing_key=key,
                mandatory=topology.must_route(key),
            )

    async def measure_backlog(self, pool: asyncpg.Pool) -> None:
        """The outbox's backlog, for /metrics: events waiting, age of the oldest."""
        row = await pool.fetchrow(Q.outbox_backlog)
        if row is not None:
            self.metrics.set("outbox_backlog_events", float(row["events"]))
            self.metrics.set("outbox_oldest_event_age_seconds", float(row["oldest_s"]))


def _log_change(row: asyncpg.Record) -> None:
    """The one INFO line of a state change: every change passes here once, whichever
    service made it (a result, an operator, the coordinator's timers)."""
    data = row["data"] or {}
    fields: dict[str, Any] = {"event": row["event_type"]}
    task = data.get("name") if row["task_id"] else None
    with logs.about_task(row["workflow_id"], task, row["attempt"] if task else None):
        if row["task_id"]:
            fields["executor"] = data.get("executor")
            if data.get("instrument"):
                fields["instrument"] = data["instrument"]
            log.info("task %s (attempt %s) %s", task, row["attempt"], data.get("status"),
                     extra=fields)  # fmt: skip
        elif row["workflow_id"]:
            log.info("workflow %s %s", data.get("name"), data.get("status"), extra=fields)
        else:  # an instrument's status or capacity
            fields["instrument"] = data.get("id")
            log.info("instrument %s %s", data.get("id"), data.get("status"), extra=fields)


def _id(row: asyncpg.Record) -> int:
    return int(row["id"])


async def _close_quietly(closing: Awaitable[object]) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(closing, 5)
