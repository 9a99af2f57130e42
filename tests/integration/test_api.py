"""The HTTP API in-process (httpx ASGI transport) against a real PostgreSQL."""

import json
import time
import uuid

import pytest

from laf_core import signing
from laf_core.testing.factories import diamond, task, workflow
from laf_core.testing.infra import TEST_RUNNER_TOKEN
from laf_core.testing.plugin import TEST_SECRET

RUNNER = {"Authorization": f"Bearer {TEST_RUNNER_TOKEN}"}  # a runner's credential


def signed(
    payload: dict,
    secret: str = TEST_SECRET,
    now: float | None = None,
    path: str = "/api/webhooks/tasks",
):
    body = json.dumps(payload).encode()
    headers = signing.sign_headers(secret, "POST", path, body, now=now) | RUNNER
    return {"content": body, "headers": headers}


async def submit(client, document, **kwargs) -> dict:
    response = await client.post("/api/workflows", json=document, **kwargs)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["traceparent"].split("-")[1] == uuid.UUID(body["id"]).hex
    return body


async def test_submit_returns_the_workflow_with_its_tasks(client):
    body = await submit(client, diamond() | {"labels": {"batch": "B-1"}, "description": "x"})
    assert set(body) >= {
        "id",
        "name",
        "status",
        "labels",
        "created_at",
        "started_at",
        "finished_at",
        "tasks",
    }
    # The submit's transaction started it: its root is queued already, the rest wait.
    assert body["status"] == "running" and body["started_at"] and body["labels"] == {"batch": "B-1"}
    assert [t["name"] for t in body["tasks"]] == ["a", "b", "c", "d"]
    d = body["tasks"][3]
    assert set(d) >= {
        "name",
        "executor",
        "status",
        "depends_on",
        "attempt",
        "outputs",
        "error",
        "started_at",
        "finished_at",
    }
    assert d["depends_on"] == ["b", "c"] and d["status"] == "pending" and d["attempt"] == 0
    a = body["tasks"][0]
    assert (a["status"], a["attempt"]) == ("queued", 1) and a["queued_at"]
    fetched = (await client.get(f"/api/workflows/{body['id']}")).json()
    assert fetched["tasks"] == body["tasks"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (workflow(task("a", "ghost")), "task 'a' depends on unknown task 'ghost'"),
        (workflow(task("a"), task("a")), "duplicate task name 'a'"),
        (
            workflow(task("a", "c"), task("b", "a"), task("c", "b")),
            "dependency cycle: a -> c -> b -> a",
        ),
        (workflow(task("a", executor="teleport")), "task 'a': unknown executor 'teleport'"),
        (workflow(), "a workflow needs at least one task"),
        (workflow(task("a", instrument="balance-99")), "task 'a': unknown instrument 'balance-99'"),
        ({"tasks": []}, "Field required"),
    ],
)
async def test_invalid_documents_get_422_with_a_clear_message_and_store_nothing(
    client, db, document, message
):
    response = await client.post("/api/workflows", json=document)
    assert response.status_code == 422
    assert message in response.text
    assert "Value error," not in response.text
    assert await db.fetchval("SELECT count(*) FROM workflows") == 0


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"", b'"text"'])
async def test_malformed_bodies_get_422_not_500(client, body):
    response = await client.post(
        "/api/workflows", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


async def test_unknown_workflow_is_404(client):
    assert (await client.get(f"/api/workflows/{uuid.uuid4()}")).status_code == 404
    response = await client.get("/api/workflows/not-a-uuid")
    assert response.status_code == 404 and "not-a-uuid" in response.json()["detail"]
    assert (await client.get(f"/api/workflows/{uuid.uuid4()}/history")).status_code == 404


async def test_list_is_newest_first_filtered_and_paginated(client, db):
    ids = [(await submit(client, workflow(task("a"), name=f"wf-{i}")))["id"] for i in range(5)]
    for other in (0, 2, 3, 4):  # all but ids[1] end; ids[1] runs on
        cancel = await client.post(f"/api/workflows/{ids[other]}/cancel", json={"reason": "r"})
        assert cancel.status_code == 200
    page = (await client.get("/api/workflows", params={"limit": 2})).json()
    seen = [w["id"] for w in page["items"]]
    while page["next_cursor"]:
        page = (
            await client.get("/api/workflows", params={"limit": 2, "cursor": page["next_cursor"]})
        ).json()
        seen += [w["id"] for w in page["items"]]
    assert seen == ids[::-1]
    running = (await client.get("/api/workflows", params={"status": "running"})).json()["items"]
    assert [w["id"] for w in running] == [ids[1]]
    assert (await client.get("/api/workflows", params={"q": "wf-3"})).json()["items"][0][
        "id"
    ] == ids[3]
    for bad in ({"status": "exploded"}, {"cursor": "garbage"}, {"limit": 0}, {"label": "nokey"}):
        assert (await client.get("/api/workflows", params=bad)).status_code == 422


async def test_an_unknown_status_filter_names_every_state_once(client):
    response = await client.get("/api/workflows", params={"status": "exploded"})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "status"]
    assert error["msg"] == (
        "Input should be one of 'pending', 'running', 'paused', 'succeeded', 'failed', 'cancelled'"
    )


async def test_label_filter(client):
    await submit(client, workflow(task("a"), labels={"batch": "B-1"}))
    other = await submit(client, workflow(task("a"), labels={"batch": "B-2", "site": "x"}))
    items = (await client.get("/api/workflows", params={"label": ["batch=B-2", "site=x"]})).json()[
        "items"
    ]
    assert [w["id"] for w in items] == [other["id"]]


async def test_idempotency_key_returns_the_same_workflow(client, db):
    first = await client.post("/api/workflows", json=diamond(), headers={"Idempotency-Key": "k-1"})
    again = await client.post("/api/workflows", json=diamond(), headers={"Idempotency-Key": "k-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert await db.fetchval("SELECT count(*) FROM workflows") == 1


async def test_schema_endpoint_serves_the_workflow_json_schema(client):
    schema = (await client.get("/api/schemas/workflow")).json()
    assert schema["title"] == "LAF workflow"
    assert "tasks" in schema["required"]
    openapi = (await client.get("/openapi.json")).json()
    assert "/api/webhooks/tasks" in openapi["paths"]


async def test_probes(client):
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).text == "ready\n"
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")


async def test_webhooks_require_a_valid_signature(client):
    payload = {"type": "started", "task_id": str(uuid.uuid4()), "attempt": 1}
    unsigned = await client.post("/api/webhooks/tasks", json=payload, headers=RUNNER)
    assert unsigned.status_code == 401
    by_a_person = await client.post(
        "/api/webhooks/tasks",
        **signed(payload)
        | {
            "headers": {
                **signed(payload)["headers"],
                "Authorization": client.headers["Authorization"],
            }
        },
    )
    assert by_a_person.status_code == 403 and "runner role" in by_a_person.text
    wrong = await client.post("/api/webhooks/tasks", **signed(payload, secret="wrong"))
    assert wrong.status_code == 401
    stale = await client.post("/api/webhooks/tasks", **signed(payload, now=time.time() - 3600))
    assert stale.status_code == 401 and "replay window" in stale.text
    malformed = await client.post("/api/webhooks/tasks", **signed({"type": "exploded"}))
    assert malformed.status_code == 422


async def test_claim_once_then_409_and_results_queue_dependents(client, db):
    wf = await submit(client, workflow(task("a", params={"outputs": {"v": 1}}), task("b", "a")))
    a = (await client.get(f"/api/workflows/{wf['id']}")).json()["tasks"][0]
    started = {"type": "started", "task_id": a["id"], "attempt": 1, "runner_id": "r1"}
    claim = await client.post("/api/webhooks/tasks", **signed(started))
    assert claim.status_code == 200
    assert claim.json()["params"] == {"outputs": {"v": 1}} and claim.json()["inputs"] == {}
    other = await client.post("/api/webhooks/tasks", **signed({**started, "runner_id": "r2"}))
    assert other.status_code == 409 and "running at attempt 1" in other.json()["detail"]
    again = await client.post("/api/webhooks/tasks", **signed(started))  # its answer was lost
    assert again.status_code == 200 and again.json() == claim.json()

    beat = await client.post("/api/webhooks/tasks", **signed({**started, "type": "heartbeat"}))
    assert beat.json() == {"accepted": True, "outcome": "running"}
    result = {
        "type": "succeeded",
        "task_id": a["id"],
        "attempt": 1,
        "runner_id": "r1",
        "outputs": {"v": 1},
    }
    done = await client.post("/api/webhooks/tasks", **signed(result))
    assert done.json() == {"accepted": True, "outcome": "succeeded", "next": None}
    duplicate = await client.post("/api/webhooks/tasks", **signed(result))
    assert duplicate.status_code == 409
    tasks = (await client.get(f"/api/workflows/{wf['id']}")).json()["tasks"]
    assert (tasks[0]["status"], tasks[0]["outputs"], tasks[1]["status"]) == (
        "succeeded",
        {"v": 1},
        "queued",
    )

    history = (await client.get(f"/api/workflows/{wf['id']}/history")).json()
    assert [h["to_status"] for h in history if h["task_name"] == "a"] == [
        "queued",
        "running",
        "succeeded",
    ]


async def test_runner_heartbeats_are_listed(client):
    beat = {"runner_id": "r-7", "executors": ["noop", "local"], "hostname": "h", "concurrency": 4}
    assert (
        await client.post("/api/webhooks/runners", **signed(beat, path="/api/webhooks/runners"))
    ).status_code == 204
    assert (
        await client.post("/api/webhooks/runners", json=beat, headers=RUNNER)
    ).status_code == 401
    runners = (await client.get("/api/runners")).json()
    assert [(r["id"], r["executors"], r["alive"]) for r in runners] == [
        ("r-7", ["noop", "local"], True)
    ]
