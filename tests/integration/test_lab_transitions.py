"""Instrument slots, pause, operator actions: the SQL transitions on a real PostgreSQL."""

import asyncio

import pytest

from laf_core.db.queries import Q
from laf_core.testing.concurrency import all_at_once
from laf_core.testing.factories import task, workflow
from tests.integration.test_transitions import (
    claim,
    finish,
    left_pending,
    run_task,
    status_of,
    submit,
    tasks_by_name,
)


async def add_instrument(db, instrument_id: str, capacity: int = 1, status: str = "online") -> None:
    await db.execute(
        "INSERT INTO instruments (id, name, kind, capacity, status) VALUES ($1, $1, 'test', $2, $3)",
        instrument_id,
        capacity,
        status,
    )


async def holding(db, instrument_id: str) -> int:
    return await db.fetchval(
        "SELECT count(*) FROM tasks WHERE instrument = $1 AND status IN ('queued', 'running')",
        instrument_id,
    )


async def test_slots_are_never_over_granted_under_concurrent_finishes(db, database_url):
    await add_instrument(db, "hplc", capacity=2)
    workflows = [
        await submit(db, workflow(task("gate"), task("inject", "gate", instrument="hplc")))
        for _ in range(12)
    ]
    gates = [(await tasks_by_name(db, wf))["gate"] for wf in workflows]
    for gate in gates:
        await claim(db, gate)
    # Twelve gates finish at once (a connection each); each makes its inject ready on the
    # same instrument.
    await all_at_once(database_url, [lambda conn, g=gate: finish(conn, g) for gate in gates])
    assert await holding(db, "hplc") == 2
    waiting = await db.fetchval(
        "SELECT count(*) FROM tasks WHERE instrument = 'hplc' AND status = 'waiting'"
    )
    assert waiting == 10
    # Draining the queue: each finish hands its slot to the next in line, never more than 2.
    while True:
        queued = await db.fetch(
            "SELECT * FROM tasks WHERE instrument = 'hplc' AND status = 'queued'"
        )
        if not queued:
            break
        for row in queued:
            await claim(db, row)
        await all_at_once(database_url, [lambda conn, r=row: finish(conn, r) for row in queued])
        assert await holding(db, "hplc") <= 2
    assert {await status_of(db, wf) for wf in workflows} == {"succeeded"}


@pytest.mark.parametrize("start_order", [(0, 1, 2), (0, 2, 1)])
async def test_first_come_first_served_across_workflows_in_submission_order(db, start_order):
    """However the coordinator interleaves their starts, the balance serves them as submitted."""
    await add_instrument(db, "balance")
    submitted = [
        await submit(db, workflow(task("weigh", instrument="balance"), name=name))
        for name in ("first", "second", "third")
    ]
    for wf in submitted:  # as if an earlier API left them to the coordinator, which
        await left_pending(db, wf)  # starts them in start_order
    for n in start_order:
        await db.fetchval(Q.start_workflow, submitted[n], "coordinator")
    order = []
    for _ in range(3):
        row = await db.fetchrow(
            "SELECT * FROM tasks WHERE instrument = 'balance' AND status = 'queued'"
        )
        order.append(row["workflow_id"])
        await claim(db, row)
        await finish(db, row)
    assert order == submitted


async def test_an_offline_instrument_grants_nothing_until_online(db):
    await add_instrument(db, "ph", status="offline")
    wf = await submit(db, workflow(task("measure", instrument="ph")))
    assert (await tasks_by_name(db, wf))["measure"]["status"] == "waiting"
    assert await db.fetchval(Q.grant_waiting) == 0
    await db.execute("UPDATE instruments SET status = 'online' WHERE id = 'ph'")
    assert await db.fetchval(Q.grant_waiting) == 1
    measure = (await tasks_by_name(db, wf))["measure"]
    assert (measure["status"], measure["attempt"]) == ("queued", 1)


async def test_pause_takes_back_queued_attempts_and_resume_restores_them(db):
    await add_instrument(db, "bath")
    wf = await submit(db, workflow(task("a"), task("b", instrument="bath")))
    assert await db.fetchval(Q.pause_workflow, wf, "user:x", "break") == "ok"
    t = await tasks_by_name(db, wf)
    assert (t["a"]["status"], t["a"]["attempt"]) == ("pending", 0)
    assert (t["b"]["status"], t["b"]["attempt"]) == ("waiting", 0)
    assert await holding(db, "bath") == 0  # the slot went back
    assert (
        await claim(db, {"id": t["a"]["id"], "attempt": 1}) is None
    )  # a stale message cannot start it
    assert (
        await db.fetchval(Q.pause_workflow, wf, "user:x", None)
        == "refused: only a running workflow can be paused (it is paused)"
    )
    assert await db.fetchval(Q.resume_workflow, wf, "user:x", None) == "ok"
    t = await tasks_by_name(db, wf)
    assert (t["a"]["status"], t["a"]["attempt"], t["b"]["status"], t["b"]["attempt"]) == (
        "queued",
        1,
        "queued",
        1,
    )


async def test_retry_reopens_only_what_no_other_failure_still_blocks(db):
    # d needs b and c; both fail. Retrying b alone must not reopen d (c still failed).
    wf = await submit(
        db,
        workflow(
            task("a"),
            task("b", "a", retry={"max_attempts": 1}),
            task("c", "a", retry={"max_attempts": 1}),
            task("d", "b", "c"),
            task("e", "b"),
        ),
    )
    await run_task(db, wf, "a")
    await run_task(db, wf, "b", "failed", error="x")
    await run_task(db, wf, "c", "failed", error="y")
    assert await status_of(db, wf) == "failed"
    assert await db.fetchval(Q.retry_task, wf, "b", "user:x", "fixed") == "ok"
    t = await tasks_by_name(db, wf)
    assert (t["b"]["status"], t["b"]["attempt"], t["b"]["max_attempts"]) == ("queued", 2, 2)
    assert (t["d"]["status"], t["e"]["status"]) == ("skipped", "pending")
    assert await status_of(db, wf) == "running"
    await run_task(db, wf, "b")
    await run_task(db, wf, "e")
    assert await status_of(db, wf) == "failed"  # c is still failed
    assert await db.fetchval(Q.skip_task, wf, "c", "user:x", "not needed") == "ok"
    t = await tasks_by_name(db, wf)
    assert (t["d"]["status"], t["d"]["deps_pending"]) == ("queued", 0)
    await run_task(db, wf, "d")
    row = await db.fetchrow(
        "SELECT status, tasks_failed, tasks_unfinished FROM workflows WHERE id = $1", wf
    )
    assert tuple(row) == ("succeeded", 0, 0)


async def test_skipping_a_pending_task_counts_it_done(db):
    wf = await submit(db, workflow(task("a"), task("b", "a"), task("c", "b")))
    assert await db.fetchval(Q.skip_task, wf, "b", "user:x", "not needed today") == "ok"
    await run_task(db, wf, "a")
    t = await tasks_by_name(db, wf)
    assert (t["b"]["status"], t["b"]["satisfied"], t["c"]["status"]) == ("skipped", True, "queued")
    await run_task(db, wf, "c")
    assert await status_of(db, wf) == "succeeded"


async def test_a_manual_task_runs_without_a_runner_and_times_out_only_with_a_limit(db):
    wf = await submit(
        db,
        workflow(task("sign", executor="manual", timeout_s=0.2), task("wait", executor="manual")),
    )
    t = await tasks_by_name(db, wf)
    assert (t["sign"]["status"], t["sign"]["runner_id"], t["wait"]["status"]) == (
        "running",
        "operator",
        "running",
    )
    async with asyncio.timeout(10):  # the reconciler fails it once past its 0.2 s
        while not (failed := await db.fetchval(Q.fail_stuck, 45.0, 30.0, "coordinator")):
            await asyncio.sleep(0.05)
    assert failed == 1
    t = await tasks_by_name(db, wf)
    started = t["sign"]["started_at"]
    assert (t["sign"]["finished_at"] - started).total_seconds() >= 0.2  # not before
    t = await tasks_by_name(db, wf)
    assert (t["sign"]["status"], t["sign"]["error"], t["wait"]["status"]) == (
        "failed",
        "timed out after 0.2s",
        "running",
    )
    assert (
        await db.fetchval(Q.complete_task, wf, "wait", {"ok": True}, "user:x", "checked", None)
        == "ok"
    )
    assert await status_of(db, wf) == "failed"


async def test_cancel_ends_everything_and_frees_slots(db):
    await add_instrument(db, "balance")
    wf = await submit(db, workflow(task("weigh", instrument="balance"), task("after", "weigh")))
    other = await submit(db, workflow(task("weigh", instrument="balance")))
    await claim(db, (await tasks_by_name(db, wf))["weigh"])
    assert await db.fetchval(Q.cancel_workflow, wf, "user:x", "wrong batch") == "ok"
    t = await tasks_by_name(db, wf)
    assert {n: r["status"] for n, r in t.items()} == {"weigh": "cancelled", "after": "cancelled"}
    assert (await tasks_by_name(db, other))["weigh"]["status"] == "queued"  # got the freed slot
    assert (
        await db.fetchval(Q.cancel_workflow, wf, "user:x", "again")
        == "refused: the workflow already ended (cancelled)"
    )
    assert (
        await db.fetchval("SELECT status FROM task_attempts WHERE task_id = $1", t["weigh"]["id"])
        == "cancelled"
    )


async def test_an_attempt_whose_runner_went_silent_is_failed_and_retried(db):
    wf = await submit(db, workflow(task("a")))
    a = (await tasks_by_name(db, wf))["a"]
    await claim(db, a)
    assert await db.fetchval(Q.fail_stuck, 45.0, 30.0, "coordinator") == 0  # it just beat
    await db.execute(
        "UPDATE tasks SET heartbeat_at = now() - interval '1 minute' WHERE id = $1", a["id"]
    )
    assert await db.fetchval(Q.fail_stuck, 45.0, 30.0, "coordinator") == 1
    a = (await tasks_by_name(db, wf))["a"]
    assert (a["status"], a["attempt"]) == ("pending", 1)  # compute task: 3 attempts by default
    assert a["error"] == "lost: runner r1 stopped reporting for 45s"
    assert (
        await finish(db, {"id": a["id"], "attempt": 1}) == "stale"
    )  # a late result changes nothing


async def test_a_queued_task_whose_message_is_gone_is_announced_again(db):
    wf = await submit(db, workflow(task("a")))
    await db.execute("DELETE FROM outbox")
    assert await db.fetchval(Q.redispatch, "noop", 60.0) == 0  # not stale yet
    await db.execute(
        "UPDATE tasks SET queued_at = now() - interval '2 minutes' WHERE workflow_id = $1", wf
    )
    assert await db.fetchval(Q.redispatch, "noop", 60.0) == 1
    assert await db.fetchval(Q.redispatch, "noop", 60.0) == 0  # spaced: not again at once
    event = await db.fetchrow("SELECT routing_key, attempt, data FROM outbox")
    assert (event["routing_key"], event["attempt"], event["data"]["redispatched"]) == (
        "task.queued.noop",
        1,
        True,
    )


async def test_instrument_changes_are_announced_for_live_views(db):
    await add_instrument(db, "ph")
    await db.execute("UPDATE instruments SET status = 'maintenance' WHERE id = 'ph'")
    await db.execute(
        "UPDATE instruments SET endpoint = 'http://x' WHERE id = 'ph'"
    )  # not a state change
    events = await db.fetch(
        "SELECT routing_key, data FROM outbox WHERE routing_key LIKE 'instrument.%' ORDER BY id"
    )
    assert [(e["routing_key"], e["data"]["id"]) for e in events] == [
        ("instrument.online", "ph"),
        ("instrument.maintenance", "ph"),
    ]
