"""LAF_AMQP_URL as a list of nodes: a service connects to the first that answers, so a
node that is down (or failed over) is passed by, not waited on."""

import asyncio

import aio_pika
import pytest

from devstack import free_port
from laf_core import broker

pytestmark = pytest.mark.integration


def down_node() -> str:
    return f"amqp://guest:guest@127.0.0.1:{free_port()}/"  # nothing listens there


async def test_the_first_node_that_answers_is_used(amqp_url):
    connection = await broker.connect(f"{down_node()}, {amqp_url}", per_node_s=2)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        assert queue.name
    finally:
        await connection.close()


async def test_with_no_node_up_the_last_error_is_raised():
    with pytest.raises((OSError, aio_pika.exceptions.AMQPError)):
        await broker.connect(f"{down_node()},{down_node()}", per_node_s=2)


def test_a_list_naming_no_broker_is_refused():
    with pytest.raises(ValueError, match="names no broker"):
        broker.broker_urls(" , ")


async def test_a_session_comes_up_on_the_node_that_is_there(amqp_url):
    stop = asyncio.Event()
    connected: list[str] = []

    async def on_connect(connection) -> None:
        connected.append(str(connection.url.port))
        stop.set()

    async with asyncio.timeout(20):
        await broker.keep_session(f"{down_node()},{amqp_url}", stop, on_connect)
    assert connected == ["5672"]
