"""The outbox relay against a real PostgreSQL and a real RabbitMQ."""

import asyncio
import contextlib
import json
import uuid

import aio_pika
import pytest

from laf_core import broker, topology
from laf_core.metrics import Metrics
from laf_listener.relay import Relay
from laf_listener.settings import ListenerSettings


async def add_events(db, *keys: str) -> None:
    for key in keys:
        await db.execute(
            "INSERT INTO outbox (routing_key, event_type, workflow_id, data) VALUES ($1, $2, $3, '{}')",
            key,
            ".".join(key.split(".")[:2]),
            uuid.uuid4(),
        )
        await db.execute("SELECT pg_notify('laf_outbox', 'x')")


@contextlib.asynccontextmanager
async def relay_running(common_settings, **settings):
    relay = Relay(common_settings, ListenerSettings(**settings), Metrics("test"))
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        for _ in range(200):
            if relay.ready:
                break
            await asyncio.sleep(0.02)
        assert relay.ready, "relay did not connect"
        yield relay
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)


@pytest.fixture
async def channel(amqp_url):
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    await broker.declare_topology(channel)
    yield channel
    await connection.close()


async def bind_probe(channel, pattern: str = "#"):
    """An exclusive queue that sees what the relay publishes."""
    exchange = await channel.get_exchange(topology.EVENTS_EXCHANGE)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, pattern)
    return queue


async def collect(queue, count: int, timeout: float = 10.0) -> list[dict]:
    got: list[dict] = []
    async with asyncio.timeout(timeout):
        async with queue.iterator() as messages:
            async for message in messages:
                await message.ack()
                headers = message.headers or {}
                got.append(
                    {
                        "key": message.routing_key,
                        "traceparent": headers.get("traceparent"),
                        **json.loads(message.body),
                    }
                )
                if len(got) == count:
                    return got
    return got


async def purge_durable(channel):
    for spec in topology.durable_queues():
        await (await channel.get_queue(spec.name)).purge()


async def test_events_written_while_no_relay_ran_are_delivered_at_start(
    db, channel, common_settings
):
    """A NOTIFY sent while the relay was down is lost; the outbox row is not."""
    await purge_durable(channel)
    probe = await bind_probe(channel)
    await add_events(db, "workflow.pending", "task.queued.noop")  # nobody listens now
    async with relay_running(common_settings, poll_s=60):  # no poll: only the start-up drain
        got = await collect(probe, 2)
    assert [m["key"] for m in got] == ["workflow.pending", "task.queued.noop"]
    assert got[0]["type"] == "workflow.pending" and uuid.UUID(got[0]["id"])
    assert got[0]["traceparent"].split("-")[1] == uuid.UUID(got[0]["workflow_id"]).hex
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0
    await purge_durable(channel)


async def test_a_notification_wakes_the_relay_without_waiting_for_the_poll(
    db, channel, common_settings
):
    await purge_durable(channel)
    probe = await bind_probe(channel, "task.*.noop")
    async with relay_running(common_settings, poll_s=60):
        await add_events(db, *["task.succeeded.noop"] * 3)
        got = await collect(probe, 3, timeout=5)
    assert len(got) == 3
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0


async def test_two_relays_share_a_large_backlog_without_loss_or_double_work(
    db, channel, common_settings
):
    await purge_durable(channel)
    probe = await bind_probe(channel, "task.succeeded.#")
    await db.execute(
        """INSERT INTO outbox (routing_key, event_type, data)
           SELECT 'task.succeeded.noop', 'task.succeeded', jsonb_build_object('n', n)
           FROM generate_series(1, 3000) n"""
    )
    async with (
        relay_running(common_settings, batch_size=200),
        relay_running(common_settings, batch_size=200),
    ):
        got = await collect(probe, 3000, timeout=30)
    numbers = sorted(m["data"]["n"] for m in got)
    assert numbers == list(range(1, 3001))
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0


async def test_an_unroutable_event_is_an_error_and_stays_in_the_outbox(
    db, channel, amqp_url, common_settings
):
    """A task.queued event with no queue to take it must not vanish."""
    await (await channel.get_queue(topology.runner_queue("noop"))).delete(
        if_unused=False, if_empty=False
    )
    connection = await aio_pika.connect(amqp_url)
    try:
        confirming = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await confirming.get_exchange(topology.EVENTS_EXCHANGE)
        await add_events(db, "task.running.noop", "task.queued.noop")
        relay = Relay(common_settings, ListenerSettings(), Metrics("test"))
        with pytest.raises(aio_pika.exceptions.DeliveryError):
            await relay.drain_once(db, exchange)
        # The whole batch was rolled back, to be published again once routable.
        assert await db.fetchval("SELECT count(*) FROM outbox") == 2
        await broker.declare_topology(confirming)
        assert await relay.drain_once(db, exchange) == 2
        assert await db.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        await connection.close()
        await purge_durable(channel)
