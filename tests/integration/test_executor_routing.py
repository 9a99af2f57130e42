"""Submitting work no runner serves (422), and a Job pod reporting with its per-attempt token."""

import json
import uuid

import pytest

from laf_api.errors import Unacceptable
from laf_api.store.workflows import ServedExecutors
from laf_core import signing
from laf_core.contracts.workflow import WorkflowSpec
from laf_core.task_tokens import task_token
from laf_core.testing.factories import task, workflow
from laf_core.testing.infra import TEST_RUNNER_TOKEN
from laf_core.testing.plugin import TEST_SECRET

RUNNER = {"Authorization": f"Bearer {TEST_RUNNER_TOKEN}"}

HPLC_JOB = task("hplc", executor="kubernetes", params={"image": "registry.example/hplc:1.4"})


async def announce(client, runner_id, *executors):
    body = json.dumps({"runner_id": runner_id, "executors": list(executors)}).encode()
    response = await client.post(
        "/api/webhooks/runners",
        content=body,
        headers=signing.sign_headers(TEST_SECRET, "POST", "/api/webhooks/runners", body) | RUNNER,
    )
    assert response.status_code == 204


async def test_a_kubernetes_task_is_refused_when_no_live_runner_serves_it(client, db):
    await announce(client, "r-1", "noop", "python", "local", "http")
    response = await client.post("/api/workflows", json=workflow(task("prep"), HPLC_JOB))
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "task 'hplc': no runner serves the 'kubernetes' executor "
        "(the runners heard from lately serve http, local, noop, python)"
    )
    assert await db.fetchval("SELECT count(*) FROM workflows") == 0

    await announce(client, "r-k8s", "kubernetes")
    assert (await client.post("/api/workflows", json=workflow(HPLC_JOB))).status_code == 201


async def test_runners_not_heard_from_within_the_window_do_not_count(client, db):
    await announce(client, "r-1", "noop")
    await announce(client, "r-old", "kubernetes")
    await db.execute(
        "UPDATE runners SET heartbeat_at = now() - interval '10 minutes' WHERE id = 'r-old'"
    )
    response = await client.post("/api/workflows", json=workflow(HPLC_JOB))
    assert response.status_code == 422 and "serve noop)" in response.json()["detail"]


async def test_with_no_live_runner_at_all_work_is_accepted_and_waits(client):
    """The runners are down (an outage), not misconfigured: the tasks wait in their queues."""
    assert (await client.post("/api/workflows", json=workflow(HPLC_JOB))).status_code == 201


async def test_an_http_task_needs_an_instrument(client):
    response = await client.post("/api/workflows", json=workflow(task("weigh", executor="http")))
    assert response.status_code == 422
    assert "task 'weigh': the http executor calls an instrument's service" in response.text


async def running_attempt(client, db, executor_task):
    created = (await client.post("/api/workflows", json=workflow(executor_task))).json()
    task_id = created["tasks"][0]["id"]
    claim = {"type": "started", "task_id": task_id, "attempt": 1, "runner_id": "r-k8s"}
    body = json.dumps(claim).encode()
    response = await client.post(
        "/api/webhooks/tasks",
        content=body,
        headers=signing.sign_headers(TEST_SECRET, "POST", "/api/webhooks/tasks", body) | RUNNER,
    )
    assert response.status_code == 200, response.text
    return created["id"], uuid.UUID(task_id)


def from_pod(token: str, report: dict) -> dict:
    return {"json": report, "headers": {"Authorization": f"Bearer {token}"}}


async def test_a_pod_reports_its_own_result_with_its_attempt_token(client, db):
    workflow_id, task_id = await running_attempt(client, db, HPLC_JOB)
    token = task_token(TEST_SECRET, task_id, 1)
    result = {"type": "succeeded", "task_id": str(task_id), "attempt": 1, "runner_id": "hplc-pod"}

    for bad in (
        from_pod("f" * 64, result),  # a forged token
        from_pod(task_token(TEST_SECRET, task_id, 2), result),  # another attempt's
        from_pod(task_token(TEST_SECRET, uuid.uuid4(), 1), result),  # another task's
        {"json": result, "headers": {"Authorization": ""}},  # neither token nor signature
    ):
        assert (await client.post("/api/webhooks/tasks", **bad)).status_code == 401
    claim = from_pod(token, {**result, "type": "started"})
    assert (await client.post("/api/webhooks/tasks", **claim)).status_code == 403

    beat = await client.post(
        "/api/webhooks/tasks", **from_pod(token, {**result, "type": "heartbeat"})
    )
    assert beat.json() == {"accepted": True, "outcome": "running"}
    done = await client.post(
        "/api/webhooks/tasks", **from_pod(token, {**result, "outputs": {"peaks": 3}})
    )
    assert done.json() == {"accepted": True, "outcome": "succeeded", "next": None}
    again = await client.post("/api/webhooks/tasks", **from_pod(token, result))
    assert again.status_code == 409  # the runner's later report changes nothing either
    fetched = (await client.get(f"/api/workflows/{workflow_id}")).json()
    assert fetched["tasks"][0]["outputs"] == {"peaks": 3}
    history = (await client.get(f"/api/workflows/{workflow_id}/history")).json()
    assert history[-2]["actor"] == f"pod:{task_id}/1" and history[-2]["to_status"] == "succeeded"


async def test_an_accepting_answer_is_reused_for_a_second_a_refusing_one_never(client, db):
    served = ServedExecutors()
    noop_only = WorkflowSpec.model_validate(workflow(task("a")))
    await announce(client, "r-1", "noop")
    async with db.acquire() as conn:
        await served.check(conn, noop_only, 300)
        # r-1 goes quiet and r-2 serves python only: a fresh read would refuse `noop` ...
        await conn.execute("UPDATE runners SET heartbeat_at = now() - interval '1 hour'")
        await announce(client, "r-2", "python")
        await served.check(conn, noop_only, 300)  # ... the accepting answer is a second old
        served.FRESH_S = 0.0  # (the second has passed)
        with pytest.raises(Unacceptable, match="serve python"):
            await served.check(conn, noop_only, 300)
        # a refusal is never reused: a runner that announced itself counts at once
        served.FRESH_S = ServedExecutors.FRESH_S
        await announce(client, "r-3", "noop")
        await served.check(conn, noop_only, 300)
