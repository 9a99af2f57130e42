"""A message no consumer can read is kept with its reason, and the consumer goes on."""

import asyncio

import aio_pika

from laf_core import topology
from laf_core.testing.factories import task, workflow
from tests.e2e.conftest import submit, wait_for_end


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
    async with asyncio.timeout(15):
        while not (letters := (await api.get("/api/admin/dead-letters")).json()):
            await asyncio.sleep(0.1)
    letter = letters[0]
    assert letter["message_id"] == "poison-1"
    assert letter["queue"] == "laf.runner.noop"
    assert letter["reason"].startswith("unreadable message")
    assert letter["body"] == "{not an envelope"
    # The runner kept consuming.
    assert (await wait_for_end(api, await submit(api, workflow(task("after")))))[
        "status"
    ] == "succeeded"
