"""Outages of this stack's own database and vhost (the shared servers stay up): the API
answers 503 while its database refuses connections, every service's /readyz says not ready
while its broker is gone, and all of it comes back by itself."""

import asyncio
import subprocess
from urllib.parse import urlsplit, urlunsplit

import httpx

from devstack import free_port
from laf_core.testing.factories import task, workflow
from tests.e2e.conftest import submit, wait_for_end

BROKER_USERS = ("listener", "coordinator", "runner")


async def ready(stack, name: str) -> int:
    async with httpx.AsyncClient() as client:
        try:
            return (await client.get(stack.processes[name].health_url, timeout=3)).status_code
        except httpx.HTTPError:
            return 0


async def until(condition, timeout: float, what: str) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.1)


class TcpCut:
    """A TCP relay to PostgreSQL that the test can cut (every connection closed, new ones
    refused) and mend: a database outage for the one process that connects through it."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.transport.abort()
        await self.server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers -= {writer, up_writer}


async def test_a_database_outage_is_answered_503_and_not_ready_then_heals(stack, api):
    url = urlsplit(stack.env["LAF_DATABASE_URL"])
    relay = TcpCut((url.hostname or "127.0.0.1", url.port or 5432))
    await relay.open()
    through_relay = url._replace(netloc=url.netloc.replace(f":{url.port}", f":{relay.port}"))
    stack.stop("api")
    stack.start("api", LAF_DATABASE_URL=urlunsplit(through_relay))
    try:
        await asyncio.to_thread(stack.wait_ready, 60, ["api"])
        await relay.cut()
        refused = await api.get("/api/workflows")
        assert refused.status_code == 503, refused.text
        assert "database" in refused.json()["detail"]
        assert (await api.post("/api/workflows", json=workflow(task("a")))).status_code == 503
        await until(lambda: _is(ready(stack, "api"), 503), 15, "the API not ready")
        await relay.open()
        await until(lambda: _is(ready(stack, "api"), 200), 30, "the API ready again")
        assert (await wait_for_end(api, await submit(api, workflow(task("after")))))[
            "status"
        ] == "succeeded"
    finally:
        stack.stop("api")
        stack.start("api")
        await asyncio.to_thread(stack.wait_ready, 60, ["api"])
        if relay.server is not None:
            relay.server.close()


async def test_while_the_broker_is_gone_every_broker_user_is_not_ready_then_heals(stack, api):
    """The stack's vhost deleted (its connections closed, none can be made) and made again."""
    await asyncio.to_thread(_rabbitmqctl, "delete_vhost", stack.vhost)
    try:
        for name in BROKER_USERS:
            await until(lambda n=name: _is(ready(stack, n), 503), 30, f"{name} not ready")
    finally:
        await asyncio.to_thread(_rabbitmqctl, "add_vhost", stack.vhost)
        await asyncio.to_thread(
            _rabbitmqctl, "set_permissions", "-p", stack.vhost, "guest", ".*", ".*", ".*"
        )
    for name in BROKER_USERS:
        await until(lambda n=name: _is(ready(stack, n), 200), 60, f"{name} ready again")
    # The topology was declared again: work flows.
    assert (await wait_for_end(api, await submit(api, workflow(task("after"))), 60))[
        "status"
    ] == "succeeded"


async def _is(status: "asyncio.Future[int] | object", wanted: int) -> bool:
    return await status == wanted  # type: ignore[misc]


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)
