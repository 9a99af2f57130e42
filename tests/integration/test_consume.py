"""laf_core.broker.consume: ack after success, dead-letter with a reason, retry transient."""

import asyncio
import json
import uuid
from datetime import UTC, datetime

import aio_pika
import pytest

from laf_core import broker, topology
from laf_core.errors import PermanentError, TransientError
from laf_core.metrics import Metrics

QUEUE = topology.runner_queue("noop")


def envelope(**data) -> bytes:
    return json.dumps(
        {
            "id": str(uuid.uuid4()),
            "type": "task.queued",
            "occurred_at": datetime.now(UTC).isoformat(),
            "task_id": str(uuid.uuid4()),
            "attempt": 1,
            "data": data,
        }
    ).encode()


@pytest.fixture
async def channel(amqp_url):
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    await broker.declare_topology(channel)
    for name in (QUEUE, topology.DEAD_LETTER_QUEUE):
        await (await channel.get_queue(name)).purge()
    yield channel
    await connection.close()


async def publish(channel, body: bytes) -> None:
    exchange = await channel.get_exchange(topology.EVENTS_EXCHANGE)
    await exchange.publish(aio_pika.Message(body, message_id="m-1"), routing_key="task.queued.noop")


async def eventually(check, timeout: float = 10.0):
    async with asyncio.timeout(timeout):
        while not (result := await check()):
            await asyncio.sleep(0.05)
    return result


async def dead_letters(channel) -> list:
    queue = await channel.get_queue(topology.DEAD_LETTER_QUEUE)
    found = []
    while (message := await queue.get(fail=False)) is not None:
        await message.ack()
        found.append(message)
    return found


async def test_poison_messages_are_dead_lettered_with_the_reason_and_the_consumer_goes_on(
    amqp_url, channel
):
    handled = []

    async def handler(event, message):
        if event.data.get("poison"):
            raise PermanentError("cannot run this")
        handled.append(event.data["n"])

    connection = await aio_pika.connect(amqp_url)
    consumer = await connection.channel()
    metrics = Metrics("t")
    await broker.consume(consumer, QUEUE, handler, metrics)
    await publish(channel, b"this is not json")
    await publish(channel, envelope(poison=True))
    await publish(channel, envelope(n=1))
    await eventually(lambda: asyncio.sleep(0, handled == [1]))
    found: list = []
    await eventually(lambda: _collect(channel, found, 2))
    reasons = sorted(m.headers[topology.ERROR_HEADER] for m in found)
    assert reasons[0] == "cannot run this"
    assert reasons[1].startswith("unreadable message")
    assert all(m.headers["x-laf-queue"] == QUEUE for m in found)
    assert metrics.value("dead_lettered") == 2
    await connection.close()
    queue = await channel.get_queue(QUEUE)
    assert (await queue.declare()).message_count == 0  # nothing left unacked or requeued


async def _collect(channel, found: list, count: int) -> bool:
    found.extend(await dead_letters(channel))
    return len(found) >= count


async def test_transient_failures_are_retried_in_place_and_acked_after_success(amqp_url, channel):
    calls = []

    async def handler(event, message):
        calls.append(message.redelivered)
        if len(calls) < 3:
            raise TransientError("database restarting")

    connection = await aio_pika.connect(amqp_url)
    consumer = await connection.channel()
    metrics = Metrics("t")
    await broker.consume(consumer, QUEUE, handler, metrics)
    await publish(channel, envelope(n=1))
    await eventually(lambda: asyncio.sleep(0, metrics.value("messages_handled") == 1))
    assert calls == [False, False, False]  # the same delivery, held, not redelivered
    assert metrics.value("handler_retries") == 2
    await connection.close()
    assert await dead_letters(channel) == []
