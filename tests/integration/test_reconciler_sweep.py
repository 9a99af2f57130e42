"""The coordinator's sweep repairs what events missed, and counts it: a workflow whose start
event never came is started; a queued task whose message is gone is announced again, but
only while its executor's queue is empty (a message waiting there may be its own)."""

import asyncio
import uuid

import aio_pika
import pytest

from laf_coordinator.coordinator import Coordinator
from laf_coordinator.settings import CoordinatorSettings
from laf_core import broker, topology
from laf_core.metrics import Metrics
from laf_core.testing.factories import task, workflow
from tests.integration.test_transitions import left_pending


@pytest.fixture
async def channel(amqp_url):
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    await broker.declare_topology(channel)
    yield channel
    await connection.close()


def coordinator(common_settings, db, channel, **settings) -> Coordinator:
    """The coordinator on the test's pool and channel, its sweep called by the test (no
    relay runs here: every event stays in the outbox, missed as far as it knows)."""
    made = Coordinator(common_settings, CoordinatorSettings(**settings), Metrics("laf_test"))
    made._pool = db
    made._channel = channel
    return made


async def submitted(client) -> uuid.UUID:
    response = await client.post("/api/workflows", json=workflow(task("a"), task("b", "a")))
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


async def test_the_sweep_starts_a_workflow_whose_start_was_missed(
    client, db, common_settings, channel
):
    workflow_id = await submitted(client)
    await left_pending(db, workflow_id)
    patient = coordinator(common_settings, db, channel, start_grace_s=3600)
    assert await patient.sweep() == {}
    assert await db.fetchval("SELECT status FROM workflows WHERE id = $1", workflow_id) == (
        "pending"
    )

    sweeper = coordinator(common_settings, db, channel, start_grace_s=0)
    assert await sweeper.sweep() == {"workflows_started_by_sweep": 1}
    assert await db.fetchval("SELECT status FROM workflows WHERE id = $1", workflow_id) == (
        "running"
    )
    assert await db.fetchval(
        "SELECT status FROM tasks WHERE workflow_id = $1 AND name = 'a'", workflow_id
    ) == ("queued")
    assert sweeper.metrics.value("workflows_started_by_sweep") == 1
    assert sweeper.metrics.value("repair_batches") == 1
    assert await sweeper.sweep() == {}  # once


async def test_a_queued_task_is_announced_again_only_while_its_queue_is_empty(
    client, db, common_settings, channel
):
    workflow_id = await submitted(client)
    sweeper = coordinator(common_settings, db, channel, redispatch_after_s=0)
    queue_name = topology.runner_queue("noop")

    async def waiting() -> int:
        queue = await channel.declare_queue(queue_name, passive=True)
        return queue.declaration_result.message_count or 0

    async def redispatched_events() -> int:
        return await db.fetchval(
            "SELECT count(*) FROM outbox WHERE routing_key = 'task.queued.noop'"
            " AND data->>'redispatched' = 'true'"
        )

    # A message waits in laf.runner.noop: the task may be announced by it; leave it.
    await channel.default_exchange.publish(
        aio_pika.Message(b"{}", message_id="someone else's"), routing_key=queue_name
    )
    async with asyncio.timeout(10):
        while not await waiting():
            await asyncio.sleep(0.05)
    assert await sweeper.sweep() == {}
    assert await redispatched_events() == 0

    # The queue empty and the task still queued: its message is gone; announce it again.
    queue = await channel.declare_queue(queue_name, passive=True)
    await queue.purge()
    assert await sweeper.sweep() == {"tasks_redispatched": 1}
    assert await redispatched_events() == 1
    assert sweeper.metrics.value("tasks_redispatched") == 1
    assert await db.fetchval(
        "SELECT status FROM tasks WHERE workflow_id = $1 AND name = 'a'", workflow_id
    ) == ("queued")
