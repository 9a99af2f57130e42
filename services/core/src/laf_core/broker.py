"""RabbitMQ access shared by every service (aio-pika).

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
from pydantic import ValidationError

from laf_core import topology
from laf_core.backoff import delays
from laf_core.contracts.events import Envelope
from laf_core.errors import PermanentError, is_transient
from laf_core.metrics import Metrics
from laf_core.service import wait_any

log = logging.getLogger(__name__)

Handler = Callable[[Envelope, AbstractIncomingMessage], Awaitable[None]]


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
            connection = await aio_pika.connect(url, timeout=10)
        except (TimeoutError, OSError, aio_pika.exceptions.AMQPError) as exc:
            delay = next(backoff)
            log.warning("%s: RabbitMQ not reachable (%s); retrying in %.1fs", name, exc, delay)
            await _sleep_unless(stop, delay)
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
            await _sleep_unless(stop, delay)
        finally:
            on_state(False)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 5)


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


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
    await dead_letter(channel, message, queue, reason)
    await message.ack()
