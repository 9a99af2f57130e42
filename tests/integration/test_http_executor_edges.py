"""The `http` executor at its edges, against real servers on real ports: a foreign
service's banner or page never reaches the task's error, redirects are not followed, an
endpoint's `?` or `#` cannot rewrite the path, only http(s) is spoken."""

import asyncio
import uuid

import pytest
from aiohttp import web

from devstack import free_port
from laf_core.contracts.reports import ClaimedTask, InstrumentRef
from laf_runner.executors import Context, TaskFailed
from laf_runner.executors.http import EXCERPT_CHARS, HttpExecutor
from laf_runner.settings import RunnerSettings

CTX = Context(runner_id="test-runner", workdir="")
RUN = HttpExecutor(RunnerSettings(http_poll_s=0.05, http_unreachable_s=0.5))


def on(endpoint: str) -> ClaimedTask:
    return ClaimedTask(
        task_id=uuid.uuid4(),
        workflow_id=uuid.uuid4(),
        name="step",
        executor="http",
        attempt=1,
        params={},
        timeout_s=None,
        inputs={},
        instrument=InstrumentRef(id="dev-01", kind="x", endpoint=endpoint),
    )


@pytest.fixture
async def service():
    """An HTTP service whose routes the test sets; `hits` records every path reached."""
    hits: list[str] = []
    routes: dict[str, web.Response] = {}

    async def handle(request: web.Request) -> web.StreamResponse:
        hits.append(request.path_qs)
        return routes.get(request.path, web.json_response({"detail": "no"}, status=404))

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", routes, hits
    await runner.cleanup()


async def test_a_foreign_page_becomes_the_status_and_a_bounded_printable_excerpt(service):
    url, routes, _ = service
    banner = "\x1b[31mSERVER\x00 banner\r\n" + "secret-internal-detail " * 500
    routes["/dev/operations"] = web.Response(status=500, text=banner)
    with pytest.raises(TaskFailed) as failed:
        await RUN.run(on(f"{url}/dev"), CTX)
    error = failed.value.error
    assert error.startswith("dev-01: [31mSERVER banner secret-internal-detail")
    assert error.endswith("… (HTTP 500)")
    assert len(error) <= len("dev-01: ") + EXCERPT_CHARS + len(" (HTTP 500)")
    assert all(ch.isprintable() for ch in error)


async def test_a_non_http_service_banner_never_reaches_the_error():
    """Like RabbitMQ's port: it answers an HTTP request with its AMQP banner and hangs up."""

    async def amqp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        writer.write(b"AMQP\x00\x00\x09\x01")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(amqp, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(TaskFailed) as failed:
            await RUN.run(on(f"http://127.0.0.1:{port}/"), CTX)
    finally:
        server.close()
        await server.wait_closed()
    assert failed.value.error.startswith("instrument dev-01 unreachable for 0.5s: ")
    assert "AMQP" not in failed.value.error


async def test_redirects_are_not_followed(service):
    url, routes, hits = service
    routes["/dev/operations"] = web.Response(status=307, headers={"Location": f"{url}/admin"})
    with pytest.raises(TaskFailed) as failed:
        await RUN.run(on(f"{url}/dev"), CTX)
    assert failed.value.error == (
        "dev-01: answered a redirect (HTTP 307), which the runner does not follow"
    )
    assert hits == ["/dev/operations"]


@pytest.mark.parametrize(
    ("endpoint", "problem"),
    [
        ("{url}/dev?", "must not have a query or a fragment"),
        ("{url}/dev#", "must not have a query or a fragment"),
        ("{url}/dev?x=/admin", "must not have a query or a fragment"),
        ("file:///etc/passwd", "must be an http:// or https:// URL with a host"),
        ("ftp://127.0.0.1/dev", "must be an http:// or https:// URL with a host"),
    ],
)
async def test_an_endpoint_that_could_rewrite_the_path_or_speaks_no_http_is_refused(
    service, endpoint, problem
):
    url, _, hits = service
    with pytest.raises(TaskFailed, match=f"^instrument dev-01: its endpoint {problem}"):
        await RUN.run(on(endpoint.format(url=url)), CTX)
    assert hits == []


async def test_an_operation_id_cannot_walk_to_another_path(service):
    url, routes, hits = service
    routes["/dev/operations"] = web.json_response({"id": "../../admin", "status": "running"})
    with pytest.raises(TaskFailed, match="answered an unusable operation id"):
        await RUN.run(on(f"{url}/dev"), CTX)
    assert hits == ["/dev/operations"]
