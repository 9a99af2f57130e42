"""The audit record (21 CFR Part 11): hash-chained history that a database superuser
cannot alter unnoticed, signed checkpoints, electronic signatures and their rules, the
exported record verified by a standalone script, and the printable batch record."""

import asyncio
import io
import itertools
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pypdf
import pytest

from laf_api import audit
from laf_core.canonical import sha256_of
from laf_core.db.queries import Q
from laf_core.testing.infra import TEST_SECRET

PASSWORD = "correct horse battery"
VERIFY_RECORD = Path(__file__).parents[2] / "scripts" / "verify-record.py"
KEY = audit.checkpoint_key(TEST_SECRET)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def user(client, name: str, roles: list[str], full_name: str = "") -> dict[str, str]:
    """A user with a password, and headers carrying their session token."""
    made = await client.post(
        "/api/users",
        json={"name": name, "password": PASSWORD, "roles": roles, "full_name": full_name},
    )
    assert made.status_code == 201, made.text
    login = await client.post(
        "/api/auth/login",
        json={"username": name, "password": PASSWORD},
        headers={"Authorization": ""},
    )
    return bearer(login.json()["token"])


async def finished_workflow(client, db, outcome: str = "succeeded", **extra) -> str:
    """Submitted through the API, started and run to its end through the transitions."""
    document = {
        "name": "assay",
        "tasks": [
            {"name": "prep", "executor": "noop"},
            {
                "name": "measure",
                "executor": "noop",
                "depends_on": ["prep"],
                "retry": {"max_attempts": 1},
            },
        ],
        **extra,
    }
    made = await client.post("/api/workflows", json=document)
    assert made.status_code == 201, made.text
    wf = uuid.UUID(made.json()["id"])
    assert not await db.fetchval(Q.start_workflow, wf, "coordinator")  # its submit started it
    for name, result in (("prep", "succeeded"), ("measure", outcome)):
        row = await db.fetchrow(
            "SELECT * FROM tasks WHERE workflow_id = $1 AND name = $2", wf, name
        )
        await db.fetchrow(Q.claim_task, row["id"], row["attempt"], "r1")
        outputs = {"assay": 98.48, "sample": "S-1"} if result == "succeeded" else None
        await db.fetchval(
            Q.finish_task,
            row["id"],
            row["attempt"],
            result,
            outputs,
            None if result == "succeeded" else "detector fault",
            "runner:r1",
            None if outputs is None else sha256_of(outputs),
        )
    return str(wf)


async def verify(client, workflow_id: str | None = None) -> dict:
    params = {"workflow_id": workflow_id} if workflow_id else {}
    answer = await client.get("/api/audit/verify", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_history_rows_are_chained_and_verify(client, db):
    wf = await finished_workflow(client, db)
    history = (await client.get(f"/api/workflows/{wf}/history")).json()
    assert all(len(h["hash"]) == 64 for h in history)
    by_chain: dict = {}
    for h in history:
        by_chain.setdefault(h["task_id"], []).append(h)
    for rows in by_chain.values():  # each task's rows, and the workflow's own, link up
        assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
        assert rows[0]["prev_hash"] is None
        assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(rows))
    verdict = await verify(client, wf)
    assert verdict["ok"] and verdict["rows"] == len(history)
    assert (await verify(client))["ok"]


async def test_the_service_role_cannot_rewrite_history_and_time_is_the_databases(client, db):
    wf = await finished_workflow(client, db)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.execute("UPDATE history SET reason = 'x' WHERE workflow_id = $1", uuid.UUID(wf))
    # A writer cannot choose the time, the place in the chain or the hash.
    await db.execute(
        "INSERT INTO history (workflow_id, to_status, actor, at, seq, hash)"
        " VALUES ($1, 'succeeded', 'x', '2000-01-01', 99, 'forged')",
        uuid.UUID(wf),
    )
    row = await db.fetchrow("SELECT at, seq, hash FROM history ORDER BY id DESC LIMIT 1")
    assert row["at"].year >= 2026 and row["seq"] != 99 and row["hash"] != "forged"


@pytest.mark.parametrize("tamper", ["change", "delete", "delete_last", "insert", "reorder"])
async def test_a_superusers_tampering_is_found_at_the_row(client, db, owner_database_url, tamper):
    wf = await finished_workflow(client, db)
    # A checkpoint first: rewriting a chain and its head together must not help.
    async with db.acquire() as conn:
        assert await audit.write_checkpoint(conn, KEY) > 0
    rows = await db.fetch(
        "SELECT id, task_id, seq FROM history WHERE workflow_id = $1 AND task_id IS NOT NULL"
        " ORDER BY task_id, id",
        uuid.UUID(wf),
    )
    task = rows[0]["task_id"]
    chain = [r for r in rows if r["task_id"] == task]
    owner = await asyncpg.connect(owner_database_url)
    try:
        await owner.execute("SET session_replication_role = replica")  # triggers off
        middle, last = chain[1], chain[-1]
        if tamper == "change":
            await owner.execute(
                "UPDATE history SET actor = 'user:mallory' WHERE id = $1", middle["id"]
            )
            expected = middle["id"]
        elif tamper == "delete":
            await owner.execute("DELETE FROM history WHERE id = $1", middle["id"])
            expected = chain[2]["id"]
        elif tamper == "delete_last":
            # The head is moved back too, as a careful superuser would: the checkpoint tells.
            await owner.execute("DELETE FROM history WHERE id = $1", last["id"])
            await owner.execute(
                "UPDATE history_heads SET seq = h.seq, hash = h.hash FROM history h"
                " WHERE h.id = $1 AND history_heads.chain = 'task:' || $2::uuid",
                chain[-2]["id"],
                task,
            )
            expected = chain[-2]["id"]
        elif tamper == "insert":
            await owner.execute(
                "INSERT INTO history (id, workflow_id, task_id, task_name, from_status, to_status,"
                " actor, seq, prev_hash, hash)"
                " SELECT $1::bigint + 0, workflow_id, task_id, task_name, to_status, to_status,"
                " 'user:mallory', seq, hash, hash FROM history WHERE id = $2",
                -1,
                middle["id"],
            )
            # an id placed between the chain's rows
            await owner.execute("UPDATE history SET id = $1 WHERE id = -1", middle["id"] + 100000)
            expected = None  # reported at the inserted row or the one it displaced
        else:  # reorder: swap the ids of two neighbours
            first, second = chain[0]["id"], chain[1]["id"]
            await owner.execute("UPDATE history SET id = -1 WHERE id = $1", first)
            await owner.execute("UPDATE history SET id = $1 WHERE id = $2", first, second)
            await owner.execute("UPDATE history SET id = $1 WHERE id = -1", second)
            expected = first
    finally:
        await owner.close()
    for scope in (wf, None):
        verdict = await verify(client, scope)
        assert verdict["ok"] is False, (tamper, verdict)
        broken = verdict["broken_at"]
        assert broken["workflow_id"] == wf
        if expected is not None:
            assert broken["history_id"] == expected, (tamper, broken)
        assert broken["reason"]


async def test_a_forged_checkpoint_is_found(client, db, owner_database_url):
    await finished_workflow(client, db)
    async with db.acquire() as conn:
        await audit.write_checkpoint(conn, KEY)
    owner = await asyncpg.connect(owner_database_url)
    try:
        await owner.execute("UPDATE audit_checkpoints SET heads = '{}'")
    finally:
        await owner.close()
    verdict = await verify(client)
    assert not verdict["ok"] and "checkpoint" in verdict["broken_at"]["reason"]


async def test_checkpoints_sign_only_chains_that_moved(client, db):
    await finished_workflow(client, db)
    async with db.acquire() as conn:
        first = await audit.write_checkpoint(conn, KEY)
        assert first > 0
        assert await audit.write_checkpoint(conn, KEY) == 0
    verdict = await verify(client)
    assert verdict["ok"] and verdict["checkpoint"]["chains"] == first


async def test_signature_rules(client, db):
    rita = await user(client, "rita", ["reviewer"], "Rita Reviewer")
    alan = await user(client, "alan", ["reviewer"], "Alan Approver")
    olga = await user(client, "olga", ["operator", "reviewer"])
    viewer = await user(client, "vic", ["viewer"])

    running = await client.post(
        "/api/workflows", json={"name": "w", "tasks": [{"name": "a", "executor": "noop"}]}
    )
    sign = lambda wf, who, meaning, password=PASSWORD: client.post(  # noqa: E731
        f"/api/workflows/{wf}/signatures",
        json={"meaning": meaning, "password": password, "comment": "checked"},
        headers=who,
    )
    assert (await sign(running.json()["id"], rita, "reviewed")).status_code == 409

    wf = await finished_workflow(client, db, requires_approval=True)
    assert (await sign(wf, viewer, "reviewed")).status_code == 403
    wrong = await sign(wf, rita, "reviewed", password="not it")
    assert wrong.status_code == 401
    assert await db.fetchval("SELECT failed_logins FROM users WHERE name = 'rita'") == 1
    approve_first = await sign(wf, alan, "approved")
    assert approve_first.status_code == 403 and "review" in approve_first.json()["detail"]

    reviewed = await sign(wf, rita, "reviewed")
    assert reviewed.status_code == 201, reviewed.text
    assert reviewed.json()["full_name"] == "Rita Reviewer"
    self_approval = await sign(wf, rita, "approved")
    assert self_approval.status_code == 403 and "someone else" in self_approval.json()["detail"]

    # olga acted on it as an operator (a pause and resume are actions on the record)
    await db.execute(
        "SELECT laf_set_context('user:olga', 'looked'); "
        "INSERT INTO history (workflow_id, to_status, from_status, actor) "
        "SELECT id, status, status, 'user:olga' FROM workflows WHERE id = '" + wf + "'"
    )
    acted = await sign(wf, olga, "approved")
    assert acted.status_code == 403 and "operator" in acted.json()["detail"]

    view = (await client.get(f"/api/workflows/{wf}")).json()
    assert view["release"] == "awaiting approval" and view["requires_approval"] is True
    approved = await sign(wf, alan, "approved")
    assert approved.status_code == 201, approved.text
    view = (await client.get(f"/api/workflows/{wf}")).json()
    assert view["release"] == "released"
    assert [s["meaning"] for s in view["signatures"]] == ["reviewed", "approved"]
    assert {s["results_sha256"] for s in view["signatures"]} == {view["results_sha256"]}
    listed = (await client.get("/api/workflows")).json()["items"]
    assert {i["id"]: i["release"] for i in listed}[wf] == "released"
    history = (await client.get(f"/api/workflows/{wf}/history")).json()
    signed = [h for h in history if h["to_status"] == "signed"]
    assert [h["actor"] for h in signed] == ["user:rita", "user:alan"]
    assert signed[1]["data"]["results_sha256"] == view["results_sha256"]
    assert (await verify(client, wf))["ok"]


async def test_a_signature_goes_stale_when_a_retry_changes_the_results(client, db):
    rita = await user(client, "rita", ["reviewer"])
    wf = await finished_workflow(client, db, outcome="failed")
    signed = await client.post(
        f"/api/workflows/{wf}/signatures",
        json={"meaning": "reviewed", "password": PASSWORD},
        headers=rita,
    )
    assert signed.status_code == 201, signed.text
    retried = await client.post(
        f"/api/workflows/{wf}/tasks/measure/retry", json={"reason": "re-run"}
    )
    assert retried.status_code == 200, retried.text
    row = await db.fetchrow(
        "SELECT * FROM tasks WHERE workflow_id = $1 AND name = 'measure'", uuid.UUID(wf)
    )
    await db.fetchrow(Q.claim_task, row["id"], row["attempt"], "r1")
    await db.fetchval(
        Q.finish_task,
        row["id"],
        row["attempt"],
        "succeeded",
        {"assay": 99.1},
        None,
        "runner:r1",
        None,
    )
    view = (await client.get(f"/api/workflows/{wf}")).json()
    assert view["status"] == "succeeded"
    assert view["signatures"][0]["stale"] is True
    assert view["release"] == "awaiting review"


async def test_a_report_whose_outputs_do_not_match_their_hash_is_refused(client, db):
    from laf_core import signing
    from laf_core.testing.infra import TEST_RUNNER_TOKEN

    made = await client.post(
        "/api/workflows", json={"name": "w", "tasks": [{"name": "a", "executor": "noop"}]}
    )
    wf = uuid.UUID(made.json()["id"])
    row = await db.fetchrow("SELECT * FROM tasks WHERE workflow_id = $1", wf)
    await db.fetchrow(Q.claim_task, row["id"], row["attempt"], "r1")

    async def report(outputs, declared):
        body = json.dumps(
            {
                "type": "succeeded",
                "task_id": str(row["id"]),
                "attempt": row["attempt"],
                "runner_id": "r1",
                "outputs": outputs,
                "outputs_sha256": declared,
            }
        ).encode()
        headers = {
            **signing.sign_headers(TEST_SECRET, "POST", "/api/webhooks/tasks", body),
            **bearer(TEST_RUNNER_TOKEN),
            "Content-Type": "application/json",
        }
        return await client.post("/api/webhooks/tasks", content=body, headers=headers)

    tampered = await report({"assay": 10.0}, sha256_of({"assay": 98.48}))
    assert tampered.status_code == 422 and "outputs_sha256" in tampered.json()["detail"]
    assert await db.fetchval("SELECT status FROM tasks WHERE id = $1", row["id"]) == "running"
    good = await report({"assay": 98.48}, sha256_of({"assay": 98.48}))
    assert good.status_code == 200, good.text
    attempt = await db.fetchrow("SELECT * FROM task_attempts WHERE task_id = $1", row["id"])
    assert attempt["outputs_sha256"] == sha256_of({"assay": 98.48})
    assert attempt["reported_by"] == "runner:r1"


async def test_the_record_verifies_offline_and_prints(client, db, tmp_path):
    rita = await user(client, "rita", ["reviewer"], "Rita Reviewer")
    wf = await finished_workflow(client, db)
    await client.post(
        f"/api/workflows/{wf}/signatures",
        json={"meaning": "reviewed", "password": PASSWORD, "comment": "all in spec"},
        headers=rita,
    )
    exported = await client.get(f"/api/workflows/{wf}/record")
    assert exported.status_code == 200
    path = tmp_path / "record.json"
    path.write_bytes(exported.content)
    checked = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(VERIFY_RECORD), str(path)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "record verified" in checked.stdout

    record = json.loads(exported.content)
    record["tasks"][1]["outputs"]["assay"] = 99.9  # a changed result
    record["tasks"][1]["attempts"][-1]["outputs"]["assay"] = 99.9
    record["record_sha256"] = sha256_of({k: v for k, v in record.items() if k != "record_sha256"})
    path.write_text(json.dumps(record))  # re-hashed, as a forger would: the data hash tells
    checked = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(VERIFY_RECORD), str(path)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 1 and "measure" in checked.stdout

    printed = await client.get(f"/api/workflows/{wf}/record", headers={"Accept": "application/pdf"})
    assert printed.status_code == 200 and printed.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(printed.content)).pages)
    assert "assay" in text and wf in text and "Rita Reviewer" in text
    assert json.loads(exported.content)["record_sha256"] in text.replace("\n", "")


async def test_laf_admin_verify_audit(client, db, database_url, owner_database_url):
    wf = await finished_workflow(client, db)
    env = {**os.environ, "LAF_DATABASE_URL": database_url, "LAF_WEBHOOK_SECRET": TEST_SECRET}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["laf-admin", "verify-audit", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    intact = await asyncio.to_thread(run, "--workflow", wf)
    assert intact.returncode == 0, intact.stderr
    assert json.loads(intact.stdout)["ok"] is True and json.loads(intact.stdout)["rows"] > 0
    owner = await asyncpg.connect(owner_database_url)
    try:
        await owner.execute("SET session_replication_role = replica")
        await owner.execute(
            "UPDATE history SET reason = 'rewritten' WHERE id = (SELECT max(id) FROM history)"
        )
    finally:
        await owner.close()
    broken = await asyncio.to_thread(run)
    assert broken.returncode == 1
    assert json.loads(broken.stdout)["broken_at"]["reason"]
