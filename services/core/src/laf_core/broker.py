"""RabbitMQ access shared by every service (aio-pika).

- `connect` retries with backoff until the broker answers, then reconnects by
  itself (robust connection); services report not-ready meanwhile.
- `declare_topology` declares the exchanges and durable queues of topology.py.
- `consume` acks only after the handler returned (its transaction committed),
  maps PermanentError to the dead-letter exchange with the reason, retries
  TransientError in place, and never lets a bad message stop the consumer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from pydantic import ValidationError

from laf_core import topology
from laf_core.backoff import delays
from laf_core.contracts.events import Envelope
from laf_core.errors import PermanentError, is_transient
from laf_core.metrics import Metrics

log = logging.getLogger(__name__)

Handler = Callable[[Envelope, AbstractIncomingMessage], Awaitable[None]]


async def connect(url: str, stop: asyncio.Event | None = None) -> AbstractRobustConnection:
    """Connect, retrying with backoff while the broker is down."""
    for delay in delays(0.2, 5.0):
        try:
            return await aio_pika.connect_robust(url, timeout=10)
        except (TimeoutError, OSError, ConnectionError, aio_pika.exceptions.AMQPError) as exc:
            log.warning("RabbitMQ not reachable (%s); retrying in %.1fs", exc, delay)
            if stop is not None and stop.is_set():
                raise
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


async def declare_topology(channel: AbstractChannel) -> None:
    events = await channel.declare_exchange(
        topology.EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
    )
    dead = await channel.declare_exchange(
        topology.DEAD_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
    )
    dead_letters = await channel.declare_queue(
        topology.DEAD_LETTER_QUEUE, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dead_letters.bind(dead, "#")
    for spec in topology.durable_queues():
        queue = await channel.declare_queue(spec.name, durable=True, arguments=spec.arguments)
        for key in spec.bindings:
            await queue.bind(events, key)


def envelope_body(envelope: Envelope) -> bytes:
    return envelope.model_dump_json().encode()


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
        try:
            envelope = Envelope.model_validate_json(message.body)
        except ValidationError as exc:
            await _reject(channel, message, queue_name, f"unreadable message: {exc}", metrics)
            return
        for delay in delays(0.1, 5.0):
            try:
                await handler(envelope, message)
            except PermanentError as exc:
                await _reject(channel, message, queue_name, str(exc), metrics)
                return
            except Exception as exc:
                if is_transient(exc):
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
    await dead_letter(channel, message, queue, reason)
    await message.ack()
