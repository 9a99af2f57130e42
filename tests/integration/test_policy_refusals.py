"""No code runs that an administrator did not allow: refused at submit (422 naming the
task and the rule) and again by the runner (a failed attempt naming the rule)."""

import uuid

import pytest

from laf_core.contracts.reports import ClaimedTask, InstrumentRef
from laf_core.metrics import Metrics
from laf_core.testing.factories import task, workflow
from laf_runner.runner import Runner
from laf_runner.settings import RunnerSettings


@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        (task("t", executor="python", params={"function": "os:system"}), "python module 'os'"),
        (task("t", executor="local", params={"command": ["curl", "x"]}), "program 'curl'"),
        (
            task("t", executor="kubernetes", params={"image": "docker.io/x/miner"}),
            "image 'docker.io/x/miner'",
        ),
    ],
)
async def test_submit_refuses_what_the_policy_does_not_list(client, db, spec, rule):
    answer = await client.post("/api/workflows", json=workflow(spec))
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("task 't': ") and rule in answer.json()["detail"]
    assert await db.fetchval("SELECT count(*) FROM workflows") == 0


async def test_instruments_at_forbidden_endpoints_are_refused_and_so_are_their_tasks(client, db):
    for endpoint in ("http://169.254.169.254/latest", "file:///etc/passwd", "http://10.0.0.1:80/"):
        spec = {"id": "x", "name": "X", "kind": "hplc", "endpoint": endpoint}
        assert (await client.post("/api/instruments", json=spec)).status_code == 422, endpoint
    ok = {"id": "hplc-9", "name": "HPLC", "kind": "hplc", "endpoint": "http://127.0.0.1:8100"}
    assert (await client.post("/api/instruments", json=ok)).status_code == 201
    moved = await client.patch(
        "/api/instruments/hplc-9", json={"endpoint": "http://169.254.169.254/"}
    )
    assert moved.status_code == 422
    # An endpoint stored before the policy was tightened: its tasks are refused at submit.
    await db.execute(
        "UPDATE instruments SET endpoint = 'http://10.9.9.9:5432/' WHERE id = 'hplc-9'"
    )
    answer = await client.post(
        "/api/workflows", json=workflow(task("inject", executor="http", instrument="hplc-9"))
    )
    assert answer.status_code == 422 and "10.9.9.9:5432" in answer.json()["detail"]


def claimed(executor: str, params: dict, instrument: InstrumentRef | None = None) -> ClaimedTask:
    return ClaimedTask(
        task_id=uuid.uuid4(),
        workflow_id=uuid.uuid4(),
        name="t",
        executor=executor,
        attempt=1,
        params=params,
        timeout_s=10,
        inputs={},
        instrument=instrument,
    )


@pytest.mark.parametrize(
    ("work", "rule"),
    [
        (claimed("python", {"function": "os:system"}), "python module 'os'"),
        (claimed("local", {"command": ["sh", "-c", "id"]}), "LAF_TASK_LOCAL_PROGRAMS is empty"),
        (claimed("kubernetes", {"image": "docker.io/x/miner"}), "image 'docker.io/x/miner'"),
        (
            claimed(
                "http", {}, InstrumentRef(id="i", kind="k", endpoint="http://169.254.169.254/")
            ),
            "link-local or metadata",
        ),
    ],
)
async def test_the_runner_refuses_again_what_slipped_past(common_settings, monkeypatch, work, rule):
    for name in ("LAF_TASK_LOCAL_PROGRAMS", "LAF_TASK_IMAGE_PREFIXES", "LAF_INSTRUMENT_ENDPOINTS"):
        monkeypatch.delenv(name, raising=False)  # the defaults: nothing but LAF's own library
    runner = Runner(
        common_settings, RunnerSettings(executors="python,local,http", token="t"), Metrics("t")
    )
    report = await runner._outcome(work)
    assert report.type == "failed"
    assert report.error.startswith("refused by the runner's task policy: ") and rule in report.error
