"""The `http` executor against the simulated lab served on a real port (uvicorn, in-process)."""

import asyncio
import uuid

import httpx
import pytest
import uvicorn

from devstack import free_port
from laf_core.contracts.reports import ClaimedTask, InstrumentRef
from laf_runner.executors import Context, TaskFailed
from laf_runner.executors.http import HttpExecutor
from laf_runner.settings import RunnerSettings
from laf_simlab.app import create_app
from laf_simlab.settings import SimlabSettings

CTX = Context(runner_id="test-runner", workdir="")
RUN = HttpExecutor(RunnerSettings(http_poll_s=0.05, http_unreachable_s=1.0))


@pytest.fixture
async def lab_url():
    port = free_port()
    app = create_app(SimlabSettings(port=port, time_scale=0.001, seed=7))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    serving = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await serving


def on(
    lab_url: str, instrument: str, params: dict, inputs: dict | None = None, **ref
) -> ClaimedTask:
    return ClaimedTask(
        task_id=uuid.uuid4(),
        workflow_id=uuid.uuid4(),
        name="step",
        executor="http",
        attempt=1,
        params=params,
        timeout_s=None,
        inputs=inputs or {},
        instrument=InstrumentRef(
            id=instrument,
            kind="x",
            endpoint=ref.get("endpoint", f"{lab_url}/instruments/{instrument}"),
            status=ref.get("status", "online"),
        ),
    )


async def fault(lab_url, instrument, **body):
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{lab_url}/admin/instruments/{instrument}/fault", json=body)
        response.raise_for_status()


async def operations(lab_url, instrument):
    async with httpx.AsyncClient() as client:
        return (await client.get(f"{lab_url}/instruments/{instrument}")).json()


async def test_a_long_operation_is_polled_to_its_outputs(lab_url):
    outputs = await RUN.run(
        on(lab_url, "hplc-01", {"run_time_min": 5, "concentration_mg_per_ml": 0.4}), CTX
    )
    assert outputs["run_time_min"] == 5 and outputs["peaks"] and outputs["area"] > 0
    assert set(outputs["chromatogram"]) == {"t_min", "mau"}


async def test_an_immediate_answer_needs_no_polling(lab_url):
    outputs = await RUN.run(on(lab_url, "ph-01", {"nominal_ph": 4.5}), CTX)
    assert abs(outputs["ph"] - 4.5) < 0.1


async def test_the_instrument_gets_the_inputs(lab_url):
    weighed = {"weigh": {"mass_mg": 40.0, "material": "sample"}}
    outputs = await RUN.run(
        on(lab_url, "bath-01", {"medium_ml": 100, "time_points_min": [0, 5, 10]}, weighed),
        CTX,
    )
    assert outputs["mass_mg"] == 40.0 and outputs["material"] == "sample"


async def test_instrument_errors_become_the_tasks_error_with_the_instruments_message(lab_url):
    await fault(lab_url, "balance-01", mode="fail", message="draft shield open", count=1)
    with pytest.raises(TaskFailed, match=r"^balance-01: draft shield open$"):
        await RUN.run(on(lab_url, "balance-01", {"target_mg": 10}), CTX)
    await fault(lab_url, "balance-01", mode="offline", message="balance-01 is being calibrated")
    with pytest.raises(TaskFailed, match=r"balance-01 is being calibrated \(HTTP 503\)"):
        await RUN.run(on(lab_url, "balance-01", {"target_mg": 10}), CTX)
    with pytest.raises(TaskFailed, match=r"params.target_mg must be between .* \(HTTP 422\)"):
        await fault(lab_url, "balance-01", mode="ok")
        await RUN.run(on(lab_url, "balance-01", {"target_mg": 0}), CTX)


async def test_cancelling_or_timing_out_tells_the_instrument_to_abort(lab_url):
    task = on(lab_url, "hplc-01", {"run_time_min": 120})
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(RUN.run(task, CTX), 0.3)
    async with httpx.AsyncClient() as client:
        state = (await client.get(f"{lab_url}/instruments/hplc-01")).json()
    assert state["active_operations"] == []  # aborted, the HPLC is free again


async def test_an_instrument_not_online_in_the_registry_or_unreachable_fails_the_task(lab_url):
    with pytest.raises(TaskFailed, match="instrument hplc-01 is maintenance"):
        await RUN.run(on(lab_url, "hplc-01", {}, status="maintenance"), CTX)
    dead = f"http://127.0.0.1:{free_port()}/instruments/hplc-01"
    with pytest.raises(TaskFailed, match=r"instrument hplc-01 unreachable for 1s"):
        await RUN.run(on(lab_url, "hplc-01", {}, endpoint=dead), CTX)
