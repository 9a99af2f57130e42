"""GET /api/workflows/{id} answers without validating each task row (store.workflow_json):
its bytes are those of the validated WorkflowOut as FastAPI serializes it, for a running
workflow with retries, outputs and errors, and again once it ended (signatures, release
and results hash included)."""

import uuid

from pydantic import TypeAdapter

from laf_api.schemas import WorkflowOut
from laf_api.store import workflows as store
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
