"""RabbitMQ access shared by every service (aio-pika).

- `connect` takes LAF_AMQP_URL as a list (comma-separated: the nodes of a RabbitMQ
  cluster) and connects to the first node that answers, the next one after a failure.
- `keep_session` owns the connection: it connects (retrying with backoff),
  lets the service declare and consume, and when the connection drops
  (a broker restart, a network cut) starts the whole session over. We do not
  rely on aio-pika's robust reconnection: measured here, it did not restore
  consumers after a forced close.
- `declare_topology` declares the exchanges and durable queues of topology.py.
- `consume` acks only after the handler returned (its transaction committed),
  maps PermanentError to the dead-letter exchange with the reason, retries
  TransientError in place, and never lets a bad message stop the consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractIncomingMessage,
    AbstractQueue,
)
from opentelemetry import context as otel_context
from pydantic import ValidationError

from laf_core import logs, telemetry, topology
from laf_core.aio import sleep, wait_any
from laf_core.backoff import delays
from laf_core.contracts.events import Envelope
from laf_core.errors import PermanentError, is_transient
from laf_core.metrics import Metrics

log = logging.getLogger(__name__)

Handler = Callable[[Envelope, AbstractIncomingMessage], Awaitable[None]]


def broker_urls(urls: str) -> list[str]:
    """The nodes in LAF_AMQP_URL: one URL, or several separated by commas."""
    found = [url.strip() for url in urls.split(",") if url.strip()]
    if not found:
        raise ValueError("LAF_AMQP_URL names no broker")
    return found


async def connect(urls: str, per_node_s: float = 10) -> AbstractConnection:
    """A connection to the first node of `urls` that answers (each tried in turn); the
    last node's error when none does. Queues are quorum queues, replicated on the
    cluster's nodes, so whichever node answers serves the same queues."""
    nodes = broker_urls(urls)
    for index, url in enumerate(nodes):
        try:
            return await aio_pika.connect(url, timeout=per_node_s)
        except (TimeoutError, OSError, aio_pika.exceptions.AMQPError) as exc:
            if index == len(nodes) - 1:
                raise
            log.warning("RabbitMQ node %d of %d not reachable (%s); trying the next",
                        index + 1, len(nodes), type(exc).__name__)  # fmt: skip
    raise AssertionError("unreachable")


async def keep_session(
    url: str,
    stop: asyncio.Event,
    on_connect: Callable[[AbstractConnection], Awaitable[None]],
    on_state: Callable[[bool], None] = lambda _: None,
    name: str = "broker",
) -> None:
    """Hold a broker session until `stop`: connect, `on_connect(connection)` (declare,
    consume), wait; when the connection drops or `on_connect` fails, start over after
    a backoff. `on_state(True/False)` tells the service whether it is connected."""
    backoff = delays(0.2, 5.0)
    while not stop.is_set():
        lost = asyncio.Event()
        try:
            connection = await connect(url)
        except (TimeoutError, OSError, aio_pika.exceptions.AMQPError) as exc:
            delay = next(backoff)
            log.warning("%s: RabbitMQ not reachable (%s); retrying in %.1fs", name, exc, delay)
            await sleep(delay, stop)
            continue
        connection.close_callbacks.add(lambda *_, lost=lost: lost.set())
        try:
            await on_connect(connection)
            on_state(True)
            backoff = delays(0.2, 5.0)
            await wait_any(stop, lost)
            if lost.is_set() and not stop.is_set():
                log.warning("%s: lost the RabbitMQ connection; reconnecting", name)
        except Exception as exc:
            delay = next(backoff)
            log.warning(
                "%s: broker session failed (%s: %s); retrying in %.1fs",
                name,
                type(exc).__name__,
                exc,
                delay,
            )
            await sleep(delay, stop)
        finally:
            on_state(False)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 5)


async def declare_topology(channel: AbstractChannel) -> None:
    events = await channel.declare_exchange(
        topology.EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
    )
    dead = await channel.declare_exchange(
        topology.DEAD_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
    )
    spec = topology.DEAD_LETTERS
    try:
        dead_letters = await channel.declare_queue(
            spec.name, durable=True, arguments=spec.arguments
        )
    except aio_pika.exceptions.ChannelPreconditionFailed:
        # Declared by an earlier LAF without its delivery limit: use it as it is.
        await channel.reopen()
        log.warning(
            "%s has no delivery limit (declared by an earlier LAF); once it is empty, "
            "delete it (rabbitmqctl delete_queue %s) and the next service start declares "
            "it with one",
            spec.name,
            spec.name,
        )
        dead_letters = await channel.declare_queue(spec.name, passive=True)
    for key in spec.bindings:
        await dead_letters.bind(dead, key)
    for spec in topology.durable_queues():
        queue = await channel.declare_queue(spec.name, durable=True, arguments=spec.arguments)
        for key in spec.bindings:
            await queue.bind(events, key)


async def dead_letter(
    channel: AbstractChannel, message: AbstractIncomingMessage, queue: str, reason: str
) -> None:
    """Publish a copy to laf.dead with the reason, so it is kept and can be inspected."""
    exchange = await channel.get_exchange(topology.DEAD_EXCHANGE, ensure=False)
    headers = dict(message.headers or {})
    headers.update({topology.ERROR_HEADER: reason[:1000], "x-laf-queue": queue})
    await exchange.publish(
        aio_pika.Message(
            message.body,
            headers=headers,
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message.message_id,
        ),
        routing_key=message.routing_key or queue,
        mandatory=False,
    )


async def consume(
    channel: AbstractChannel,
    queue_name: str,
    handler: Handler,
    metrics: Metrics,
    *,
    prefetch: int = 32,
) -> AbstractQueue:
    """Start consuming `queue_name` with `handler`; returns the queue."""
    await channel.set_qos(prefetch_count=prefetch)
    queue = await channel.get_queue(queue_name, ensure=False)

    async def on_message(message: AbstractIncomingMessage) -> None:
        if len(message.body) > topology.MAX_MESSAGE_BYTES:
            reason = (
                f"message too large: {len(message.body)} bytes"
                f" (at most {topology.MAX_MESSAGE_BYTES})"
            )
            await _reject(channel, message, queue_name, reason, metrics)
            return
        try:
            envelope = Envelope.model_validate_json(message.body)
        except ValidationError as exc:
            await _reject(channel, message, queue_name, f"unreadable message: {exc}", metrics)
            return
        metrics.inc("messages_consumed", queue=queue_name)
        # The handler's spans are children of the relay's publish span (its traceparent).
        token = otel_context.attach(telemetry.from_headers(message.headers))
        name = envelope.data.get("name") if envelope.task_id else None
        try:
            with logs.about_task(envelope.workflow_id, name, envelope.attempt):
                await _handle(envelope, message)
        finally:
            otel_context.detach(token)

    async def _handle(envelope: Envelope, message: AbstractIncomingMessage) -> None:
        for delay in delays(0.1, 5.0):
            try:
                await handler(envelope, message)
            except PermanentError as exc:
                await _reject(channel, message, queue_name, str(exc), metrics)
                return
            except Exception as exc:
                if is_transient(exc):
                    if channel.is_closed:
                        return  # the session is gone; the broker redelivers it to the next one
                    metrics.inc("handler_retries")
                    log.warning(
                        "%s: transient failure (%s); retrying in %.1fs", queue_name, exc, delay
                    )
                    await asyncio.sleep(delay)
                    continue
                # A bug or an unexpected state: requeue; the queue's delivery
                # limit dead-letters it if it keeps failing.
                metrics.inc("handler_errors")
                log.exception("%s: handler failed on %s", queue_name, envelope.type)
                await message.nack(requeue=True)
                return
            await message.ack()
            metrics.inc("messages_handled")
            return

    await queue.consume(on_message)
    return queue


async def _reject(
    channel: AbstractChannel,
    message: AbstractIncomingMessage,
    queue: str,
    reason: str,
    metrics: Metrics,
) -> None:
    log.error("%s: dead-lettering message %s: %s", queue, message.message_id, reason)
    metrics.inc("dead_lettered")
    metrics.inc("messages_dead_lettered", queue=queue)
    await dead_letter(channel, message, queue, reason)
    await message.ack()
