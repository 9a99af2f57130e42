"""`timeout_s` through the runner, per executor: the attempt fails "timed out after …" at
its limit and what it started is stopped (an http operation aborted on the instrument, a
python worker killed, a Kubernetes Job deleted)."""

import asyncio
import uuid
from datetime import datetime

import kmock
import pytest
from aiohttp import web

from devstack import free_port
from laf_core.testing.factories import task, workflow
from tests.e2e.conftest import submit, wait_for_end
from tests.kmock_cluster import (
    JOBS,
    NS,
    Emulator,
    requests,
    serving_jobs_and_pods,
    write_kubeconfig,
)


def only_attempt(result: dict) -> dict:
    (only,) = result["tasks"]
    (attempt,) = only["attempts"]
    return attempt


def seconds(attempt: dict) -> float:
    started = datetime.fromisoformat(attempt["started_at"])
    return (datetime.fromisoformat(attempt["finished_at"]) - started).total_seconds()


@pytest.fixture
async def instrument_that_never_finishes():
    """An instrument service whose operations run forever; records the aborts it gets."""
    aborted: list[str] = []

    async def start(request: web.Request) -> web.Response:
        return web.json_response(
            {"id": "op-1", "status": "running", "poll_after_s": 0.1}, status=202
        )

    async def poll(request: web.Request) -> web.Response:
        return web.json_response({"id": request.match_info["id"], "status": "running"})

    async def abort(request: web.Request) -> web.Response:
        aborted.append(request.match_info["id"])
        return web.json_response({"id": request.match_info["id"], "status": "aborted"})

    app = web.Application()
    app.add_routes(
        [
            web.post("/operations", start),
            web.get("/operations/{id}", poll),
            web.post("/operations/{id}/abort", abort),
        ]
    )
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", aborted
    await runner.cleanup()


async def test_an_http_task_times_out_and_its_operation_is_aborted(
    api, instrument_that_never_finishes
):
    endpoint, aborted = instrument_that_never_finishes
    instrument = f"endless-{uuid.uuid4().hex[:6]}"
    made = await api.post(
        "/api/instruments",
        json={"id": instrument, "name": instrument, "kind": "test", "endpoint": endpoint},
    )
    assert made.status_code == 201, made.text
    document = workflow(
        task(
            "endless",
            executor="http",
            instrument=instrument,
            timeout_s=1,
            retry={"max_attempts": 1},
        )
    )
    result = await wait_for_end(api, await submit(api, document), 30)
    attempt = only_attempt(result)
    assert (result["status"], attempt["error"]) == ("failed", "timed out after 1s")
    assert 1 <= seconds(attempt) < 20  # the runner's limit, not the reconciler's
    async with asyncio.timeout(10):
        while not aborted:
            await asyncio.sleep(0.05)
    assert aborted == ["op-1"]


async def test_a_python_task_times_out(api):
    document = workflow(
        task(
            "spins",
            executor="python",
            params={"function": "tests.hostile_tasks:spin"},
            timeout_s=1,
            retry={"max_attempts": 1},
        )
    )
    result = await wait_for_end(api, await submit(api, document), 30)
    attempt = only_attempt(result)
    assert (result["status"], attempt["error"]) == ("failed", "timed out after 1s")
    assert 1 <= seconds(attempt) < 20


async def test_a_kubernetes_task_times_out_and_its_job_is_deleted(stack, api, tmp_path):
    async with Emulator() as cluster, kmock.Server(cluster):
        serving_jobs_and_pods(cluster)  # Jobs are created and never finish
        config = write_kubeconfig(tmp_path / "kubeconfig", str(cluster.url))
        name = "k8s-timeouts"
        stack.start(
            "runner",
            name,
            LAF_RUNNER_EXECUTORS="kubernetes",
            LAF_RUNNER_K8S_KUBECONFIG=str(config),
            LAF_RUNNER_K8S_NAMESPACE=NS,
        )
        try:
            await asyncio.to_thread(stack.wait_ready, 30, [name])
            document = workflow(
                task(
                    "forever",
                    executor="kubernetes",
                    params={"image": "registry.example/forever:1"},
                    timeout_s=2,
                    retry={"max_attempts": 1},
                )
            )
            result = await wait_for_end(api, await submit(api, document), 60)
            attempt = only_attempt(result)
            assert result["status"] == "failed"
            assert attempt["error"].startswith("timed out after 2s"), attempt["error"]
            assert 2 <= seconds(attempt) < 25
            async with asyncio.timeout(10):
                while not requests(cluster, "DELETE", JOBS):
                    await asyncio.sleep(0.05)
        finally:
            await asyncio.to_thread(stack.stop, name)
