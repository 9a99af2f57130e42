"""Could FastStream carry LAF's traffic? The same work through aio-pika (what the services
use) and through FastStream's RabbitBroker, on a throw-away vhost of the local RabbitMQ:

  - round trip: publish one TaskEvent (persistent, mandatory, confirmed), the consumer
    validates it into the Pydantic model and acks after its handler; the next publish
    waits for that ack (p50 / p99);
  - drain: 3,000 events waiting in the quorum queue, consumed at prefetch 32 (events/s);
  - forced close: RabbitMQ closes FastStream's consumer connection (rabbitmqctl
    close_all_connections, as the fault suite does); does an event published afterwards
    arrive within 15 s?

    uv run python scripts/bench_faststream.py [--round-trips 1000] [--drain 3000]

A developer's measurement for the note of issue #13, not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aio_pika
from faststream.rabbit import ExchangeType, QueueType, RabbitBroker, RabbitExchange, RabbitQueue

from laf_core.asyncapi import TaskEvent

EXCHANGE, QUEUE, KEY = "bench.events", "bench.tasks", "task.queued.noop"


def say(message: str) -> None:
    print(message, flush=True)  # noqa: T201 - a report for the terminal


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def event_body() -> bytes:
    return TaskEvent.model_validate(
        {
            "id": uuid.uuid4(),
            "type": "task.queued",
            "occurred_at": datetime.now(UTC),
            "workflow_id": uuid.uuid4(),
            "task_id": uuid.uuid4(),
            "attempt": 1,
            "data": {"name": "step", "executor": "noop", "status": "queued"},
        }
    ).model_dump_json().encode()


class Consumer:
    """What a consumer does with each event: count it and wake whoever waits."""

    def __init__(self) -> None:
        self.seen = 0
        self.arrived = asyncio.Event()

    def handled(self, event: TaskEvent) -> None:
        assert event.data.executor == "noop"
        self.seen += 1
        self.arrived.set()


async def declare(url: str) -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        events = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(
            QUEUE, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(events, KEY)


async def aio_pika_consumer(url: str, consumer: Consumer) -> Callable[[], Awaitable[None]]:
    connection = await aio_pika.connect(url)
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=32)
    queue = await channel.get_queue(QUEUE, ensure=False)

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        consumer.handled(TaskEvent.model_validate_json(message.body))
        await message.ack()

    await queue.consume(on_message)
    return connection.close


async def faststream_consumer(url: str, consumer: Consumer) -> Callable[[], Awaitable[None]]:
    broker = RabbitBroker(url, logger=None)
    queue = RabbitQueue(QUEUE, durable=True, queue_type=QueueType.QUORUM, routing_key=KEY)
    exchange = RabbitExchange(EXCHANGE, type=ExchangeType.TOPIC, durable=True)

    @broker.subscriber(queue, exchange)
    async def on_event(event: TaskEvent) -> None:  # acked after it returns
        consumer.handled(event)

    await broker.start()
    broker.config.broker_config.prefetch_count = 32  # type: ignore[attr-defined]
    return broker.stop


async def aio_pika_publisher(url: str) -> tuple[Callable[[bytes], Awaitable[Any]], Any]:
    connection = await aio_pika.connect(url)
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(EXCHANGE, ensure=False)

    async def publish(body: bytes) -> Any:
        message = aio_pika.Message(
            body, content_type="application/json", delivery_mode=aio_pika.DeliveryMode.PERSISTENT
        )
        return await exchange.publish(message, routing_key=KEY, mandatory=True)

    return publish, connection.close


async def faststream_publisher(url: str) -> tuple[Callable[[bytes], Awaitable[Any]], Any]:
    broker = RabbitBroker(url, logger=None)
    await broker.start()
    exchange = RabbitExchange(EXCHANGE, type=ExchangeType.TOPIC, durable=True)

    async def publish(body: bytes) -> Any:
        return await broker.publish(
            body,
            exchange=exchange,
            routing_key=KEY,
            persist=True,
            mandatory=True,
            content_type="application/json",
        )

    return publish, broker.stop


KINDS = {
    "aio-pika": (aio_pika_publisher, aio_pika_consumer),
    "FastStream": (faststream_publisher, faststream_consumer),
}


async def round_trips(url: str, kind: str, count: int) -> list[float]:
    make_publisher, make_consumer = KINDS[kind]
    consumer = Consumer()
    stop_consumer = await make_consumer(url, consumer)
    publish, stop_publisher = await make_publisher(url)
    times = []
    try:
        for _ in range(count):
            consumer.arrived.clear()
            started = time.perf_counter()
            await publish(event_body())
            await asyncio.wait_for(consumer.arrived.wait(), 10)
            times.append(time.perf_counter() - started)
    finally:
        await stop_publisher()
        await stop_consumer()
    return times


async def drain(url: str, kind: str, count: int) -> float:
    publish, stop_publisher = await aio_pika_publisher(url)
    await asyncio.gather(*(publish(event_body()) for _ in range(count)))
    await stop_publisher()
    consumer = Consumer()
    started = time.perf_counter()
    stop_consumer = await KINDS[kind][1](url, consumer)
    while consumer.seen < count:
        consumer.arrived.clear()
        await asyncio.wait_for(consumer.arrived.wait(), 30)
    elapsed = time.perf_counter() - started
    await stop_consumer()
    return count / elapsed


async def after_forced_close(url: str, vhost: str, kind: str) -> str:
    consumer = Consumer()
    stop_consumer = await KINDS[kind][1](url, consumer)
    try:
        await asyncio.to_thread(rabbitmqctl, "close_all_connections", "-p", vhost, "bench")
        await asyncio.sleep(1)
        publish, stop_publisher = await aio_pika_publisher(url)
        started = time.perf_counter()
        await publish(event_body())
        await stop_publisher()
        try:
            await asyncio.wait_for(consumer.arrived.wait(), 15)
        except TimeoutError:
            return "not consumed within 15 s (the consumer did not come back)"
        return f"consumed {1000 * (time.perf_counter() - started):.0f} ms after the publish"
    finally:
        try:
            await asyncio.wait_for(stop_consumer(), 5)
        except Exception as exc:
            say(f"  ({kind} consumer did not stop cleanly: {type(exc).__name__})")


async def main(args: argparse.Namespace) -> None:
    vhost = f"bench-faststream-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    url = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    try:
        await declare(url)
        for kind in KINDS:  # once each, so neither pays for the first connections
            await round_trips(url, kind, 50)
        # Taken in turns, `--rounds` times: the machine's load falls on both alike.
        p50s: dict[str, list[float]] = {kind: [] for kind in KINDS}
        p99s: dict[str, list[float]] = {kind: [] for kind in KINDS}
        rates: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for _ in range(args.rounds):
            for kind in KINDS:
                times = sorted(await round_trips(url, kind, args.round_trips))
                p50s[kind].append(statistics.median(times))
                p99s[kind].append(times[int(0.99 * (len(times) - 1))])
                rates[kind].append(await drain(url, kind, args.drain))
        for kind in KINDS:
            p50, p99 = statistics.median(p50s[kind]), statistics.median(p99s[kind])
            say(
                f"{kind:10} round trip p50 {1000 * p50:.2f} ms  p99 {1000 * p99:.2f} ms;"
                f"  drain {statistics.median(rates[kind]):.0f} events/s"
                f"  (medians of {args.rounds} rounds)"
            )
        # LAF's own sessions (laf_core.broker.keep_session) start over after a forced close,
        # as the fault suite proves; a bare aio-pika consumer does not, so only FastStream's
        # robust connection is tried here.
        say(f"FastStream forced close: {await after_forced_close(url, vhost, 'FastStream')}")
    finally:
        rabbitmqctl("delete_vhost", vhost)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--round-trips", type=int, default=1000)
    parser.add_argument("--drain", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
