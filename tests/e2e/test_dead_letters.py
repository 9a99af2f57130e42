"""Poison ends: a message no consumer can read is kept with its reason, and the consumer
goes on; what cannot be stored as it came is stored escaped and bounded; a message failing
every delivery is dead-lettered by RabbitMQ at the delivery limit, with that reason."""

import asyncio
import json
import uuid
from datetime import UTC, datetime

import aio_pika
import httpx

from laf_core import topology
from laf_core.testing.factories import task, workflow
from tests.e2e.conftest import submit, wait_for_end

BIG = 5 * 1024 * 1024


def big_envelope(queue: str) -> bytes:
    """A valid-shaped event of 5 MB."""
    return json.dumps(
        {
            "id": str(uuid.uuid4()),
            "type": "workflow.pending" if queue == topology.COORDINATOR_QUEUE else "task.queued",
            "occurred_at": datetime.now(UTC).isoformat(),
            "task_id": str(uuid.uuid4()),
            "workflow_id": str(uuid.uuid4()),
            "attempt": 1,
            "data": {"padding": "x" * BIG},
        }
    ).encode()


async def letters_by_id(api: httpx.AsyncClient, wanted: set[str], timeout: float = 30) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            found = {
                letter["message_id"]: letter
                for letter in (await api.get("/api/admin/dead-letters?limit=1000")).json()
            }
            if wanted <= found.keys():
                return found
            await asyncio.sleep(0.1)


async def test_a_poison_message_is_dead_lettered_visible_and_harmless(stack, api):
    connection = await aio_pika.connect(stack.env["LAF_AMQP_URL"])
    try:
        channel = await connection.channel()
        exchange = await channel.get_exchange(topology.EVENTS_EXCHANGE)
        await exchange.publish(
            aio_pika.Message(b"{not an envelope", message_id="poison-1"), "task.queued.noop"
        )
    finally:
        await connection.close()
    letter = (await letters_by_id(api, {"poison-1"}, 15))["poison-1"]
    assert letter["queue"] == "laf.runner.noop"
    assert letter["reason"].startswith("unreadable message")
    assert letter["body"] == "{not an envelope"
    # The runner kept consuming.
    assert (await wait_for_end(api, await submit(api, workflow(task("after")))))[
        "status"
    ] == "succeeded"


async def test_malformed_messages_straight_to_every_consumed_queue_end_in_dead_letters(stack, api):
    """A NUL byte, a body that is not JSON, a valid-shaped 5 MB event: published straight to
    the coordinator's queue and each served runner queue, each is refused with a reason and
    kept (escaped, bounded); straight to laf.dead-letters, stored escaped and truncated;
    nothing dropped, and the consumers go on."""
    served = ["noop", "python", "local", "http"]  # the test runner's executors
    queues = [topology.COORDINATOR_QUEUE, *(topology.runner_queue(e) for e in served)]
    sent: dict[str, tuple[str, str]] = {}  # message id -> (queue, kind)
    connection = await aio_pika.connect(stack.env["LAF_AMQP_URL"])
    try:
        channel = await connection.channel()
        for queue in queues:
            for kind, body in (
                ("nul", b'{"id": "\x00", "type": "task.queued"}\x00'),
                ("not json", b"\xff\xfe not json"),
                ("5 MB", big_envelope(queue)),
            ):
                message_id = f"{kind}-{queue}-{uuid.uuid4()}"
                sent[message_id] = (queue, kind)
                await channel.default_exchange.publish(
                    aio_pika.Message(body, message_id=message_id), routing_key=queue
                )
        # Straight to the dead letters: what the coordinator must store however it looks.
        nul_id, big_id = f"dl-nul-{uuid.uuid4()}", f"dl-5mb-{uuid.uuid4()}"
        await channel.default_exchange.publish(
            aio_pika.Message(
                b"a\x00b", message_id=nul_id, headers={"x-laf-error": "bad\x00reason"}
            ),
            routing_key=topology.DEAD_LETTER_QUEUE,
        )
        await channel.default_exchange.publish(
            aio_pika.Message(b"y" * BIG, message_id=big_id),
            routing_key=topology.DEAD_LETTER_QUEUE,
        )
    finally:
        await connection.close()

    found = await letters_by_id(api, {*sent, nul_id, big_id}, 60)
    for message_id, (queue, kind) in sent.items():
        letter = found[message_id]
        assert letter["queue"] == queue, (kind, letter["queue"])
        expected = "message too large" if kind == "5 MB" else "unreadable message"
        assert letter["reason"].startswith(expected), (kind, queue, letter["reason"][:200])
        assert len(letter["body"]) < 70 * 1024
        if kind == "nul":
            assert "\\u0000" in letter["body"] and "\x00" not in letter["body"]
    assert found[nul_id]["body"] == "a\\u0000b"
    assert found[nul_id]["reason"] == "bad\\u0000reason"
    assert "[truncated: " in found[big_id]["body"] and len(found[big_id]["body"]) < 70 * 1024
    counters = await asyncio.to_thread(stack.counters, "coordinator")
    assert counters.get("dead_letters_dropped", 0) == 0 and counters["dead_letters_kept"] >= 17
    # Nothing of them left in any queue (none redelivered forever) ...
    async with asyncio.timeout(30):
        while await _waiting(stack, [*queues, topology.DEAD_LETTER_QUEUE]):
            await asyncio.sleep(0.2)
    # ... and the consumers went on: the coordinator starts, the runners run.
    document = workflow(
        task("a"),
        task("b", "a", executor="local", params={"command": ["sh", "-c", "true"]}),
    )
    assert (await wait_for_end(api, await submit(api, document)))["status"] == "succeeded"


async def _waiting(stack, queues: list[str]) -> int:
    connection = await aio_pika.connect(stack.env["LAF_AMQP_URL"])
    try:
        channel = await connection.channel()
        total = 0
        for name in queues:
            queue = await channel.declare_queue(name, passive=True)
            total += queue.declaration_result.message_count or 0
        return total
    finally:
        await connection.close()


async def test_a_message_failing_every_delivery_is_dead_lettered_at_the_delivery_limit(stack, api):
    """laf.runner.kubernetes has no consumer in this stack: the test is one that requeues
    every delivery, until RabbitMQ gives up on the message at the quorum delivery limit."""
    queue_name = topology.runner_queue("kubernetes")
    message_id = f"requeued-{uuid.uuid4()}"
    connection = await aio_pika.connect(stack.env["LAF_AMQP_URL"])
    deliveries = 0
    try:
        channel = await connection.channel()
        await channel.default_exchange.publish(
            aio_pika.Message(b"{}", message_id=message_id), routing_key=queue_name
        )
        queue = await channel.declare_queue(queue_name, passive=True)
        async with asyncio.timeout(30):
            while True:
                message = await queue.get(fail=False)
                if message is None:
                    if (
                        await channel.declare_queue(queue_name, passive=True)
                    ).declaration_result.message_count == 0 and deliveries:
                        break
                    await asyncio.sleep(0.05)
                    continue
                assert message.message_id == message_id
                deliveries += 1
                await message.nack(requeue=True)
    finally:
        await connection.close()
    assert deliveries == topology.DELIVERY_LIMIT + 1
    letter = (await letters_by_id(api, {message_id}))[message_id]
    assert letter["queue"] == queue_name
    assert letter["reason"] == "dead-lettered by RabbitMQ: delivery_limit"
