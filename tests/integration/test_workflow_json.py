"""GET /api/workflows/{id} answers without validating each task row (store.workflow_json):
its bytes are those of the validated WorkflowOut as FastAPI serializes it, for a running
workflow with retries, outputs and errors, and again once it ended (signatures, release
and results hash included)."""

import uuid

import asyncpg
import pytest
from pydantic import TypeAdapter

from laf_api.schemas import WorkflowOut
from laf_api.store import signatures
from laf_api.store import workflows as store
from laf_core.db.queries import Q
from laf_core.testing.factories import task, workflow
from tests.integration.test_api import signed, submit

VALIDATED = TypeAdapter(WorkflowOut)


async def report(client, task_id: str, attempt: int, kind: str, **fields) -> None:
    start = {"type": "started", "task_id": task_id, "attempt": attempt, "runner_id": "r1"}
    assert (await client.post("/api/webhooks/tasks", **signed(start))).status_code == 200
    result = {**start, "type": kind, **fields}
    assert (await client.post("/api/webhooks/tasks", **signed(result))).status_code == 200


async def assert_same_bytes(client, db, workflow_id: str) -> dict:
    answer = await client.get(f"/api/workflows/{workflow_id}")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    async with db.acquire() as conn:
        validated = await store.get_workflow(conn, uuid.UUID(workflow_id))
    assert answer.content == VALIDATED.dump_json(validated)
    assert WorkflowOut.model_validate_json(answer.content) == validated
    return answer.json()


async def test_the_unvalidated_answer_is_the_validated_one_byte_for_byte(client, db):
    document = workflow(
        task("weigh", params={"target_mg": 25.0, "note": "µg/mL ✓"}, timeout_s=2.5),
        task("dissolve", "weigh", retry={"max_attempts": 2, "backoff_s": 60}),
        task("blank", retry={"max_attempts": 1}),
        task("report", "dissolve", "blank"),
        labels={"batch": "B-7"},
    )
    created = await submit(client, document)
    workflow_id = created["id"]
    await assert_same_bytes(client, db, workflow_id)  # pending, nothing run
    tasks = {t["name"]: t["id"] for t in created["tasks"]}
    outputs = {"mass_mg": 25.013, "ok": True, "trace": [1, 2.5, None, {"k": "ü"}]}
    await report(client, tasks["weigh"], 1, "succeeded", outputs=outputs)
    await report(client, tasks["blank"], 1, "failed", error="lamp \u00e9teinte", outputs={"a": 1})
    await report(client, tasks["dissolve"], 1, "failed", error="stirrer stalled")

    running = await assert_same_bytes(client, db, workflow_id)
    by_name = {t["name"]: t for t in running["tasks"]}
    assert by_name["dissolve"]["status"] == "pending" and by_name["dissolve"]["retry_at"]
    assert by_name["dissolve"]["attempts"][0]["error"] == "stirrer stalled"
    assert by_name["weigh"]["outputs"] == outputs and by_name["report"]["status"] == "skipped"

    cancel = await client.post(f"/api/workflows/{workflow_id}/cancel", json={"reason": "r"})
    assert cancel.status_code == 200
    ended = await assert_same_bytes(client, db, workflow_id)
    assert ended["status"] == "cancelled" and ended["results_sha256"]
    assert ended["release"] == "awaiting review" and ended["trace_id"] == uuid.UUID(workflow_id).hex


async def test_an_unknown_workflow_is_still_404(client):
    answer = await client.get(f"/api/workflows/{uuid.uuid4()}")
    assert answer.status_code == 404 and "no workflow with id" in answer.json()["detail"]


# PostgreSQL writes the tasks' JSON (queries.sql workflow_view); these read it back byte for
# byte against pydantic's, through every kind of value it formats itself, and through the
# rows (store._workflow_json_of_rows) for what it leaves to them.

AWKWARD = 'q " b \\ t\t n\n r\r ctl \x01\x1f del \x7f é ✓ \u2028 😀 [,{"attempt":1}'


@pytest.fixture
def read_from_rows(monkeypatch) -> list[str]:
    """The workflows the GET answered from the rows rather than workflow_view's JSON."""
    calls: list[str] = []
    from_rows = store._workflow_json_of_rows

    async def spy(conn, workflow_id):
        calls.append(str(workflow_id))
        return await from_rows(conn, workflow_id)

    monkeypatch.setattr(store, "_workflow_json_of_rows", spy)
    return calls


async def test_every_kind_of_value_is_written_as_pydantic_writes_it(client, db, read_from_rows):
    instrument = {"id": "balance-01", "name": "Balance", "kind": "balance"}
    assert (await client.post("/api/instruments", json=instrument)).status_code == 201
    document = workflow(
        task("Zeta", params={"n": 1e-7, "big": 10**20, "s": AWKWARD, "f": 2.0}, timeout_s=60.0),
        task("alpha", retry={"max_attempts": 3, "backoff_s": 0}, timeout_s=1 / 3),
        task("beta-2", "alpha", timeout_s=0.0001),
        task("beta.1", "alpha", timeout_s=604800.0, instrument="balance-01"),
        task("beta_1", "alpha", timeout_s=123.456, retry={"max_attempts": 1}),
        task("weigh", params={"empty": {}, "list": []}, timeout_s=0.1 + 0.2),
        labels={"batch": "B-7", "note": "µ ✓"},
        description=AWKWARD,
    )
    created = await submit(client, document)
    workflow_id = created["id"]
    ids = {t["name"]: t["id"] for t in created["tasks"]}
    await assert_same_bytes(client, db, workflow_id)  # queued and pending, nothing run

    outputs = {"pi": 3.14159, "small": 1e-5, "int": 2.0, "nested": {"b": [1, {"a": None}]}}
    await report(client, ids["Zeta"], 1, "succeeded", outputs=outputs | {"s": AWKWARD})
    await report(client, ids["alpha"], 1, "failed", error=AWKWARD, outputs={"partial": 0.1})
    async with db.acquire() as conn:  # its backoff (0 s) is over: attempt 2 is queued
        await conn.execute(Q.queue_due_retries, "test")
    start = {"type": "started", "task_id": ids["weigh"], "attempt": 1, "runner_id": "r-ü"}
    assert (await client.post("/api/webhooks/tasks", **signed(start))).status_code == 200
    running = await assert_same_bytes(client, db, workflow_id)  # `weigh` running
    weigh = next(t for t in running["tasks"] if t["name"] == "weigh")
    assert weigh["status"] == "running" and weigh["runner_id"] == "r-ü"

    await report(client, ids["alpha"], 2, "succeeded", outputs={})
    for name in ("beta-2", "beta.1"):
        await report(client, ids[name], 1, "succeeded", outputs={"name": name})
    await report(client, ids["beta_1"], 1, "failed", error="x")
    result = {**start, "type": "succeeded", "outputs": {"mass_mg": 25.013}}
    assert (await client.post("/api/webhooks/tasks", **signed(result))).status_code == 200

    ended = await assert_same_bytes(client, db, workflow_id)
    assert ended["status"] == "failed" and read_from_rows == []
    alpha = next(t for t in ended["tasks"] if t["name"] == "alpha")
    assert [a["status"] for a in alpha["attempts"]] == ["failed", "succeeded"]
    assert alpha["attempts"][0]["error"] == AWKWARD and alpha["outputs"] == {}
    async with db.acquire() as conn:  # the hash a signature signs, read the signing way
        signing_hash = await signatures.results_sha256(conn, [uuid.UUID(workflow_id)])
    assert ended["results_sha256"] == signing_hash[uuid.UUID(workflow_id)]


async def test_what_postgresql_does_not_format_is_read_from_the_rows(
    client, db, owner_database_url, read_from_rows
):
    tiny = await submit(client, workflow(task("tiny", timeout_s=0.00001)))
    await assert_same_bytes(client, db, tiny["id"])  # 1e-05 in PostgreSQL, 0.00001 in pydantic
    assert read_from_rows == [tiny["id"]]

    created = await submit(client, workflow(task("a"), task("b", "a"), task("c", "a")))
    ids = {t["name"]: t["id"] for t in created["tasks"]}
    await report(client, ids["a"], 1, "succeeded", outputs={})
    await report(client, ids["b"], 1, "succeeded", outputs={})
    owner = await asyncpg.connect(owner_database_url)
    try:  # times no clock gives: a whole second, a year of three digits, infinity
        await owner.execute(
            "UPDATE tasks SET started_at = date_trunc('second', started_at),"
            " heartbeat_at = '0999-03-04 05:06:07.5+00' WHERE id = $1",
            uuid.UUID(ids["a"]),
        )
        await owner.execute(
            "UPDATE task_attempts SET queued_at = date_trunc('second', queued_at)"
            " WHERE task_id = $1",
            uuid.UUID(ids["b"]),
        )
        await assert_same_bytes(client, db, created["id"])
        assert read_from_rows == [tiny["id"]]  # still formatted by PostgreSQL
        await owner.execute(
            "UPDATE tasks SET retry_at = 'infinity' WHERE id = $1", uuid.UUID(ids["c"])
        )
        await assert_same_bytes(client, db, created["id"])
        assert read_from_rows == [tiny["id"], created["id"]]
    finally:
        await owner.close()
