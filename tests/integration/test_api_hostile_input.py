"""Issue 11's reproductions against the API in-process: each bad request gets a clear 4xx,
nothing partial is stored, and the API answers a read at once afterwards."""

import asyncio
import json
import uuid

import httpx
import pytest

from laf_api.app import create_app
from laf_api.settings import ApiSettings
from laf_core import signing
from laf_core.db.pool import create_pool
from laf_core.testing.factories import task, workflow
from laf_core.testing.infra import TEST_ADMIN_TOKEN, policy_for_tests
from laf_core.testing.plugin import TEST_SECRET
from tests.integration.test_api import RUNNER, signed, submit

EVIL_PATTERN_INSTRUMENT = {
    "id": "evil-01",
    "name": "A schema with a catastrophic pattern",
    "kind": "balance",
    "parameters_schema": {
        "type": "object",
        "properties": {"sample": {"type": "string", "pattern": "^(a+)+$"}},
    },
}


async def still_answers(client) -> None:
    """A read answers within a second right after the bad request."""
    answer = await asyncio.wait_for(client.get("/api/workflows?limit=1"), timeout=1.0)
    assert answer.status_code == 200


async def counts(db) -> tuple[int, int, int]:
    return (
        await db.fetchval("SELECT count(*) FROM workflows"),
        await db.fetchval("SELECT count(*) FROM tasks"),
        await db.fetchval("SELECT count(*) FROM instruments"),
    )


def detail_list(response) -> list[dict]:
    """A 422's detail: always a list of {loc, msg, type}."""
    detail = response.json()["detail"]
    assert isinstance(detail, list) and all({"loc", "msg", "type"} <= set(d) for d in detail)
    return detail


async def test_a_catastrophic_pattern_is_evaluated_in_linear_time(client, db):
    assert (await client.post("/api/instruments", json=EVIL_PATTERN_INSTRUMENT)).status_code == 201
    before = await counts(db)
    document = workflow(
        task("weigh", instrument="evil-01", params={"sample": "a" * 32 + "!"}),
    )
    answer = await asyncio.wait_for(client.post("/api/workflows", json=document), timeout=5.0)
    assert answer.status_code == 422
    assert "params.sample" in answer.text and "does not match" in answer.text
    await still_answers(client)
    assert await counts(db) == before


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"$ref": "https://example.invalid/schema.json"}, "points outside the schema"),
        ({"properties": {"a": {"$ref": "other.json#/x"}}}, "points outside the schema"),
        ({"properties": {"a": {"type": "string", "pattern": "(a)\\1"}}}, "linear time"),
        ({"patternProperties": {"(?=x)": {}}}, "linear time"),
        ({"type": "no-such-type"}, "not a valid JSON Schema"),
        ({"properties": {"a\u0000": {}}}, "NUL"),
    ],
)
async def test_a_schema_that_cannot_be_evaluated_safely_is_refused(client, db, schema, expected):
    before = await counts(db)
    answer = await client.post(
        "/api/instruments", json={**EVIL_PATTERN_INSTRUMENT, "parameters_schema": schema}
    )
    assert answer.status_code == 422 and expected in answer.text, answer.text
    await still_answers(client)
    assert await counts(db) == before


def deep(levels: int) -> dict:
    node: dict = {}
    for _ in range(levels):
        node = {"x": node}
    return node


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (json.dumps(workflow(task("a\u0000b"))), "NUL"),
        (json.dumps(workflow(task("a"), name="wf\u0000")), "NUL"),
        (json.dumps(workflow(task("a"), labels={"k": "v\u0000"})), "NUL"),
        (json.dumps(workflow(task("a", params={"x\u0000": 1}))), "NUL"),
        (json.dumps(workflow(task("a", params=deep(300)))), "nested deeper"),
        (
            '{"name": "w", "tasks": [{"name": "a", "executor": "noop", "params": ' + "[" * 5000,
            "nested deeper",
        ),
        (
            '{"name": "w", "tasks": [{"name": "a", "executor": "noop", "params": {"x": NaN}}]}',
            "NaN",
        ),
        (
            '{"name": "w", "tasks": [{"name": "a", "executor": "noop", "params": {"x": -Infinity}}]}',
            "Infinity",
        ),
        (
            '{"name": "w", "tasks": [{"name": "a", "executor": "noop", "timeout_s": "10"}]}',
            "timeout_s",
        ),
        (
            '{"name": "w", "tasks": [{"name": "a", "executor": "noop", "retry": {"max_attempts": true}}]}',
            "max_attempts",
        ),
        (b'{"name": "\xff"}', "UTF-8"),
        ("not json at all", "not JSON"),
    ],
)
async def test_bad_documents_are_a_clear_422(client, db, body, expected):
    before = await counts(db)
    answer = await client.post(
        "/api/workflows", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert any(expected in d["msg"] or expected in str(d["loc"]) for d in detail_list(answer))
    await still_answers(client)
    assert await counts(db) == before


@pytest.mark.parametrize(
    "url",
    [
        "/api/workflows?q=%00",
        "/api/workflows?label=a%3D%00",
        "/api/workflows/%00",
        "/api/instruments/a%00b",
        "/api/workflows/00000000-0000-0000-0000-000000000000/history?after=99999999999999999999",
        "/api/events?workflow_id=not-a-uuid",
    ],
)
async def test_nul_characters_and_bad_ids_in_the_url_are_a_clear_422(client, url):
    answer = await client.get(url)
    assert answer.status_code == 422, answer.text
    detail_list(answer)
    await still_answers(client)


async def test_a_nul_in_a_reason_is_refused_and_changes_nothing(client, db):
    created = await submit(client, workflow(task("a")))
    answer = await client.post(
        f"/api/workflows/{created['id']}/cancel", json={"reason": "because\u0000"}
    )
    assert answer.status_code == 422
    assert (await client.get(f"/api/workflows/{created['id']}")).json()["status"] == "running"


@pytest.mark.parametrize(
    "report",
    [
        {"type": "heartbeat", "attempt": 2**40},
        {"type": "heartbeat", "attempt": True},
        {"type": "heartbeat", "attempt": "1"},
    ],
)
async def test_out_of_range_and_loose_integers_in_reports_are_a_clear_422(client, report):
    payload = {"task_id": str(uuid.uuid4()), "runner_id": "r-1", **report}
    answer = await client.post("/api/webhooks/tasks", **signed(payload))
    assert answer.status_code == 422, answer.text
    await still_answers(client)


async def test_a_runner_concurrency_beyond_range_is_a_clear_422(client, db):
    beat = {"runner_id": "r-huge", "executors": ["noop"], "concurrency": 2**40}
    answer = await client.post(
        "/api/webhooks/runners", **signed(beat, path="/api/webhooks/runners")
    )
    assert answer.status_code == 422, answer.text
    assert await db.fetchval("SELECT count(*) FROM runners WHERE id = 'r-huge'") == 0


async def test_like_wildcards_in_q_match_literally(client):
    await submit(client, workflow(task("a"), name="plain name"))
    await submit(client, workflow(task("a"), name="100% yield"))
    names = lambda answer: [w["name"] for w in answer.json()["items"]]  # noqa: E731
    assert names(await client.get("/api/workflows", params={"q": "%"})) == ["100% yield"]
    assert names(await client.get("/api/workflows", params={"q": "_"})) == []


async def test_an_empty_idempotency_key_is_refused(client, db):
    before = await counts(db)
    answer = await client.post(
        "/api/workflows", json=workflow(task("a")), headers={"Idempotency-Key": ""}
    )
    assert answer.status_code == 422
    detail_list(answer)
    assert await counts(db) == before


async def test_an_idempotency_key_is_the_callers_and_a_different_document_is_409(client, db):
    made = await client.post("/api/users", json={"name": "bob", "roles": ["operator"]})
    assert made.status_code == 201, made.text
    token = await client.post("/api/tokens", json={"name": "bob's", "user": "bob"})
    assert token.status_code == 201, token.text
    bob = {"Authorization": f"Bearer {token.json()['token']}"}

    mine = await client.post(
        "/api/workflows", json=workflow(task("a")), headers={"Idempotency-Key": "k"}
    )
    theirs = await client.post(
        "/api/workflows", json=workflow(task("b")), headers={"Idempotency-Key": "k"} | bob
    )
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]
    before = await counts(db)
    other = await client.post(
        "/api/workflows", json=workflow(task("c")), headers={"Idempotency-Key": "k"}
    )
    assert other.status_code == 409 and mine.json()["id"] in other.json()["detail"]
    again = await client.post(
        "/api/workflows", json=workflow(task("a")), headers={"Idempotency-Key": "k"}
    )
    assert (again.status_code, again.json()["id"]) == (200, mine.json()["id"])
    assert await counts(db) == before
    await still_answers(client)


async def test_a_long_header_is_refused(client, db):
    before = await counts(db)
    answer = await client.post(
        "/api/workflows", json=workflow(task("a")), headers={"X-Actor": "x" * 6000}
    )
    assert answer.status_code == 422 and "x-actor" in answer.text
    assert await counts(db) == before
    await still_answers(client)


async def test_a_large_body_without_a_credential_is_refused_before_it_is_read(client, db):
    body = b'{"name": "' + b"x" * (200 * 1024) + b'"}'
    anonymous = await client.post(
        "/api/workflows",
        content=body,
        headers={"Authorization": "", "Content-Type": "application/json"},
    )
    assert anonymous.status_code == 401
    forged = await client.post(
        "/api/workflows",
        content=body,
        headers={"Authorization": "Bearer laf_forged", "Content-Type": "application/json"},
    )
    assert forged.status_code == 401
    huge = await client.post(
        "/api/workflows",
        content=b"[" + b" " * (17 * 1024 * 1024) + b"]",
        headers={"Content-Type": "application/json"},
    )
    assert huge.status_code == 413 and "LAF_API_MAX_BODY_BYTES" in huge.text
    await still_answers(client)


async def test_a_workflow_over_a_size_limit_names_the_limit(client, db):
    before = await counts(db)
    big = workflow(task("a", params={"blob": "x" * (5 * 1024 * 1024)}))
    answer = await client.post("/api/workflows", json=big)
    assert answer.status_code == 422 and "LAF_API_MAX_WORKFLOW_DATA_BYTES" in answer.text
    assert await counts(db) == before
    await still_answers(client)


async def test_outputs_over_the_limit_are_refused_for_good(client, db):
    created = await submit(client, workflow(task("a")))
    answer = await client.post(
        "/api/webhooks/tasks",
        **signed(
            {
                "type": "succeeded",
                "task_id": created["tasks"][0]["id"],
                "attempt": 1,
                "outputs": {"blob": "x" * (2 * 1024 * 1024)},
            }
        ),
    )
    assert answer.status_code == 413 and "LAF_API_MAX_OUTPUTS_BYTES" in answer.text
    task_row = await db.fetchrow(
        "SELECT status, outputs FROM tasks WHERE id = $1", uuid.UUID(created["tasks"][0]["id"])
    )
    assert (task_row["status"], task_row["outputs"]) == ("queued", None)


@pytest.mark.parametrize("timestamp", [" 123", "+123", "1_2", "99999999999"])
async def test_webhook_timestamps_are_digits_within_the_window(client, timestamp):
    payload = {"type": "heartbeat", "task_id": str(uuid.uuid4()), "attempt": 1}
    request = signed(payload)
    request["headers"][signing.TIMESTAMP_HEADER] = timestamp
    answer = await client.post("/api/webhooks/tasks", **request)
    assert answer.status_code == 401, answer.text


async def test_a_replayed_or_re_addressed_webhook_is_refused(client):
    payload = {"runner_id": "r-replay", "executors": ["noop"]}
    request = signed(payload, path="/api/webhooks/runners")
    assert (await client.post("/api/webhooks/runners", **request)).status_code == 204
    replay = await client.post("/api/webhooks/runners", **request)
    assert replay.status_code == 401 and "replay" in replay.text
    body = json.dumps(payload).encode()
    elsewhere = signing.sign_headers(TEST_SECRET, "POST", "/api/webhooks/tasks", body) | RUNNER
    moved = await client.post("/api/webhooks/runners", content=body, headers=elsewhere)
    assert moved.status_code == 401 and "does not match" in moved.text


async def test_list_pages_are_summaries_unless_tasks_are_asked_for(client):
    await submit(client, workflow(task("a"), task("b", "a")))
    summary = (await client.get("/api/workflows")).json()["items"][0]
    assert summary["tasks"] is None and summary["progress"]["total"] == 2
    full = (await client.get("/api/workflows?include=tasks")).json()["items"][0]
    assert [t["name"] for t in full["tasks"]] == ["a", "b"]


async def test_history_is_paged(client):
    created = await submit(client, workflow(task("a"), task("b")))
    cancel = await client.post(f"/api/workflows/{created['id']}/cancel", json={"reason": "r"})
    assert cancel.status_code == 200
    everything = (await client.get(f"/api/workflows/{created['id']}/history")).json()
    assert len(everything) >= 3
    first = (await client.get(f"/api/workflows/{created['id']}/history?limit=2")).json()
    rest = (
        await client.get(f"/api/workflows/{created['id']}/history?after={first[-1]['id']}")
    ).json()
    assert first + rest == everything


async def test_readyz_says_what_is_down_without_internals(client):
    client._transport.app.state.pool = None  # as before the database is reached
    answer = await client.get("/readyz")
    assert answer.status_code == 503
    assert answer.text.startswith("not ready\ndatabase: not connected yet\n")


async def test_a_busy_pool_answers_503_and_webhooks_have_a_pool_of_their_own(db, common_settings):
    settings = ApiSettings(allowed_hosts=["laf"], pool_acquire_timeout_s=0.2)
    app = create_app(common_settings, settings, policy=policy_for_tests())
    reads = await create_pool(common_settings.database_url, min_size=1, max_size=1)
    app.state.pool, app.state.report_pool = reads, db
    admin = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            reads.acquire(),  # a slow read holds every connection public reads have
            httpx.AsyncClient(transport=transport, base_url="http://laf", headers=admin) as client,
        ):
            busy = await client.get("/api/workflows")
            assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
            assert "busy" in busy.json()["detail"]
            beat = {"runner_id": "r-busy", "executors": ["noop"]}
            answer = await client.post(
                "/api/webhooks/runners", **signed(beat, path="/api/webhooks/runners")
            )
            assert answer.status_code == 204
    finally:
        await reads.close()
    assert await db.fetchval("SELECT count(*) FROM runners WHERE id = 'r-busy'") == 1
