"""Hostile load on 127.0.0.1: 150 slow readers and 50 event-stream clients at once while
workflows run. Heartbeats and results still land (webhooks have their own database pool),
no attempt is reaped as lost, and the 51st stream of one caller is a 429."""

import asyncio
import contextlib

import httpx
import pytest

from devstack import running_stack
from laf_core.testing.factories import task, workflow
from tests.e2e.conftest import ARTIFACTS, submit, wait_for_end

READERS = 150
STREAMS = 50  # LAF_API_MAX_EVENT_STREAMS_PER_CALLER's default: all of one caller's
WORKFLOWS = 12


@pytest.fixture(scope="module")
async def stack(pg_template):
    async with running_stack(
        pg_template,
        ARTIFACTS / "test_hostile_load",
        LAF_COORDINATOR_SWEEP_S="0.5",
        # Short, so a starved heartbeat shows: an attempt silent for 6 s is reaped as lost.
        LAF_RUNNER_HEARTBEAT_S="1",
        LAF_COORDINATOR_HEARTBEAT_TIMEOUT_S="6",
        LAF_API_POOL_SIZE="4",  # public reads share 4 connections: easy to exhaust
    ) as stack:
        yield stack


def slow_workflow(n: int) -> dict:
    return workflow(
        task(
            "wait", executor="python", params={"function": "laf_runner.library:sleep", "seconds": 3}
        ),
        task(
            "echo",
            "wait",
            executor="python",
            params={"function": "laf_runner.library:echo", "value": n},
        ),
        name=f"under load {n}",
    )


async def slow_reader(client: httpx.AsyncClient, stop: asyncio.Event, answers: list[int]) -> None:
    """Reads the heaviest page there is, a kilobyte at a time."""
    while not stop.is_set():
        with contextlib.suppress(httpx.HTTPError):
            async with client.stream("GET", "/api/workflows?include=tasks&limit=200") as response:
                answers.append(response.status_code)
                async for _ in response.aiter_bytes(1024):
                    await asyncio.sleep(0.01)


async def stream_client(client: httpx.AsyncClient, stop: asyncio.Event, opened: list[int]) -> None:
    with contextlib.suppress(httpx.HTTPError):
        async with client.stream("GET", "/api/events") as response:
            opened.append(response.status_code)
            lines = response.aiter_lines()
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        await anext(lines)
                await asyncio.sleep(0.2)  # a slow consumer


@pytest.mark.timeout(240)
async def test_reads_and_streams_do_not_starve_heartbeats_or_results(stack):
    limits = httpx.Limits(max_connections=READERS + STREAMS + 20)
    timeout = httpx.Timeout(60.0)
    async with (
        httpx.AsyncClient(
            base_url=stack.api_url, headers=stack.auth_headers, limits=limits, timeout=timeout
        ) as crowd,
        httpx.AsyncClient(
            base_url=stack.api_url, headers=stack.auth_headers, timeout=timeout
        ) as api,
    ):
        stop = asyncio.Event()
        answers: list[int] = []
        opened: list[int] = []
        load = [asyncio.create_task(slow_reader(crowd, stop, answers)) for _ in range(READERS)]
        load += [asyncio.create_task(stream_client(crowd, stop, opened)) for _ in range(STREAMS)]
        try:
            async with asyncio.timeout(60):
                while len(opened) < STREAMS:
                    await asyncio.sleep(0.1)
            one_too_many = await api.get("/api/events")
            assert one_too_many.status_code == 429 and "Retry-After" in one_too_many.headers

            ids = [await submit(api, slow_workflow(n)) for n in range(WORKFLOWS)]
            ends = [await wait_for_end(api, wf, timeout=150) for wf in ids]
        finally:
            stop.set()  # each reader and stream ends at its next look
            async with asyncio.timeout(60):
                await asyncio.gather(*load, return_exceptions=True)

        assert [w["status"] for w in ends] == ["succeeded"] * WORKFLOWS
        tasks = [t for w in ends for t in w["tasks"]]
        assert all(t["attempt"] == 1 for t in tasks), "an attempt was failed and retried"
        errors = [a["error"] for t in tasks for a in t["attempts"] if a["error"]]
        assert not [e for e in errors if "lost" in e], errors
        waits = [t for t in tasks if t["name"] == "wait"]
        assert all(t["heartbeat_at"] for t in waits), "a running attempt's heartbeat never landed"
        assert set(opened) == {200} and len(answers) >= READERS and set(answers) <= {200, 503}
