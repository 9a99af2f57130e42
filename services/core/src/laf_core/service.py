"""Running a service process: signals, supervised background tasks, probes.

Every background task runs inside one TaskGroup: if one dies, the others are
cancelled and the process exits non-zero so its orchestrator restarts it
(STYLE habit 7). SIGTERM and SIGINT stop it cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

import uvloop

from laf_core import telemetry
from laf_core.logs import setup_logging
from laf_core.metrics import CONTENT_TYPE, Metrics
from laf_core.settings import CommonSettings

log = logging.getLogger(__name__)


class Worker(Protocol):
    """What a service without an HTTP server of its own runs: the relay, the coordinator,
    a runner."""

    @property
    def ready(self) -> bool: ...

    async def run(self, stop: asyncio.Event) -> None: ...


def serve(name: str, build: Callable[[CommonSettings, Metrics], Worker]) -> None:
    """The `main()` of `laf-<name>`: settings and logging, the worker built by `build`,
    supervised beside its probe server (/healthz, /readyz, /metrics on LAF_HEALTH_PORT).
    Tracing is on when the OTEL_* variables name an exporter (laf_core.telemetry)."""
    common = CommonSettings()
    setup_logging(name, common.log_level, common.log_json)
    common.warn_if_open(f"laf-{name}")
    telemetry.setup_tracing(f"laf-{name}")
    metrics = Metrics(f"laf_{name}")
    worker = build(common, metrics)

    async def main(stop: asyncio.Event) -> None:
        await until_stopped(
            stop,
            worker.run(stop),
            serve_probes(common.health_port, lambda: worker.ready, metrics),
        )

    try:
        run(name, main)
    finally:
        telemetry.shutdown_tracing()


def run(name: str, main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run `main(stop)` until it returns; `stop` is set on SIGTERM/SIGINT."""

    async def _runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    try:
        # uvloop, as uvicorn runs the API: asyncpg and aio-pika spend less per message on it
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(_runner())
    except Exception:
        log.exception("%s stopped on an error", name)
        sys.exit(1)
    log.info("%s stopped", name)


async def until_stopped(stop: asyncio.Event, *workers: Coroutine[Any, Any, None]) -> None:
    """Run `workers` supervised until `stop` is set or one of them fails."""

    async def _stopper() -> None:
        await stop.wait()
        raise _Stop

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(_stopper())
            for worker in workers:
                group.create_task(worker)
    except* _Stop:
        pass


class _Stop(Exception):
    pass


async def serve_probes(
    port: int, ready: Callable[[], bool], metrics: Metrics, host: str = "0.0.0.0"
) -> None:
    """/healthz, /readyz and /metrics for services that have no HTTP server of their own."""
    if not port:
        await asyncio.Event().wait()  # nothing to serve; stay supervised like the others

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            request = await asyncio.wait_for(reader.readline(), 5)
            path = request.split(b" ")[1].decode() if request.count(b" ") >= 2 else "/"
            content_type = "text/plain"
            if path == "/healthz":
                status, body = 200, "ok\n"
            elif path == "/readyz":
                status, body = (200, "ready\n") if ready() else (503, "not ready\n")
            elif path == "/metrics":
                status, body, content_type = 200, metrics.render(), CONTENT_TYPE
            else:
                status, body = 404, "not found\n"
            data = body.encode()
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, host, port)
    async with server:
        await server.serve_forever()
