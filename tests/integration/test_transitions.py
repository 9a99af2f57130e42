"""The SQL transitions every writer shares, against a real PostgreSQL."""

import asyncio
import uuid

import asyncpg
import pytest

from laf_api.store import workflows as store
from laf_core.contracts.states import FINAL_TASK_STATUSES
from laf_core.contracts.workflow import WorkflowSpec
from laf_core.db.queries import Q
from laf_core.testing.concurrency import all_at_once
from laf_core.testing.factories import diamond, fan_out, task, workflow


async def submit(db: asyncpg.Pool, document: dict) -> uuid.UUID:
    async with db.acquire() as conn:
        workflow_id, created = await store.create_workflow(
            conn, WorkflowSpec.model_validate(document), "user:test", None
        )
    assert created
    return workflow_id


async def left_pending(db, workflow_id: uuid.UUID) -> None:
    """Back to how an API before 2026-12-04 left a submitted workflow: pending, its start
    up to the coordinator (the submit's transaction starts it now)."""
    async with db.acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE tasks SET status = 'pending', attempt = 0, queued_at = NULL, ready_at = NULL"
            " WHERE workflow_id = $1",
            workflow_id,
        )
        await conn.execute(
            "UPDATE workflows SET status = 'pending', started_at = NULL WHERE id = $1", workflow_id
        )
        await conn.execute("DELETE FROM outbox WHERE workflow_id = $1", workflow_id)


async def tasks_by_name(db, workflow_id) -> dict[str, asyncpg.Record]:
    rows = await db.fetch("SELECT * FROM tasks WHERE workflow_id = $1", workflow_id)
    return {r["name"]: r for r in rows}


async def status_of(db, workflow_id) -> str:
    return await db.fetchval("SELECT status FROM workflows WHERE id = $1", workflow_id)


async def claim(db, row) -> asyncpg.Record | None:
    return await db.fetchrow(Q.claim_task, row["id"], row["attempt"], "r1")


async def finish(db, row, outcome="succeeded", outputs=None, error=None) -> str:
    return await db.fetchval(
        Q.finish_task, row["id"], row["attempt"], outcome, outputs or {}, error, "runner:r1", None
    )


async def run_task(db, workflow_id, name, outcome="succeeded", outputs=None, error=None) -> str:
    row = (await tasks_by_name(db, workflow_id))[name]
    assert row["status"] == "queued", f"{name} is {row['status']}"
    assert await claim(db, row) is not None
    return await finish(db, row, outcome, outputs, error)


async def test_a_diamond_runs_in_dependency_order_with_outputs_flowing(db):
    wf = await submit(db, diamond())
    assert await status_of(db, wf) == "running"  # the submit's transaction started it
    assert await db.fetchval(Q.start_workflow, wf, "coordinator") is False  # idempotent

    t = await tasks_by_name(db, wf)
    assert {n: r["status"] for n, r in t.items()} == {
        "a": "queued",
        "b": "pending",
        "c": "pending",
        "d": "pending",
    }
    assert [t[n]["deps_pending"] for n in "abcd"] == [0, 1, 1, 2]

    assert await run_task(db, wf, "a", outputs={"x": 1}) == "succeeded"
    t = await tasks_by_name(db, wf)
    assert (t["b"]["status"], t["c"]["status"], t["d"]["status"]) == ("queued", "queued", "pending")
    await run_task(db, wf, "b", outputs={"y": 2})
    assert (await tasks_by_name(db, wf))["d"]["status"] == "pending"
    await run_task(db, wf, "c", outputs={"z": 3})

    d = (await tasks_by_name(db, wf))["d"]
    claimed = await claim(db, d)
    assert claimed["inputs"] == {"b": {"y": 2}, "c": {"z": 3}}
    assert await finish(db, d) == "succeeded"
    row = await db.fetchrow("SELECT * FROM workflows WHERE id = $1", wf)
    assert (row["status"], row["tasks_unfinished"], row["finished_at"] is not None) == (
        "succeeded",
        0,
        True,
    )


async def test_a_claim_is_accepted_once_per_attempt_and_reports_must_match(db):
    wf = await submit(db, workflow(task("a"), task("b", "a")))
    a = (await tasks_by_name(db, wf))["a"]
    assert await db.fetchrow(Q.claim_task, a["id"], a["attempt"] + 1, "r1") is None  # wrong attempt
    claimed = await claim(db, a)
    assert claimed is not None
    assert await db.fetchrow(Q.claim_task, a["id"], a["attempt"], "r2") is None  # another's
    changes = await db.fetchval("SELECT count(*) FROM history")
    # The runner holding it may ask again (its first answer lost after the commit): the
    # same answer, nothing changed.
    assert await claim(db, a) == claimed
    assert await db.fetchval("SELECT count(*) FROM history") == changes
    assert await db.fetchval(Q.finish_task, a["id"], 2, "succeeded", {}, None, "r", None) == "stale"
    assert await finish(db, a) == "succeeded"
    assert await claim(db, a) is None  # ended: not even its runner claims it again
    assert await finish(db, a) == "stale"  # duplicate result changes nothing
    assert await finish(db, a, "failed", error="late") == "stale"
    b = (await tasks_by_name(db, wf))["b"]
    assert (b["status"], b["attempt"]) == ("queued", 1)
    assert await db.fetchval("SELECT count(*) FROM task_attempts") == 1


async def test_a_final_failure_skips_everything_downstream_and_fails_the_workflow(db):
    doc = workflow(
        task("a", retry={"max_attempts": 1}),
        task("b", "a"),
        task("c", "b"),  # downstream of a: skipped
        task("other"),  # independent branch: still runs
        task("after-other", "other"),
    )
    wf = await submit(db, doc)
    assert await run_task(db, wf, "a", "failed", error="balance unstable") == "failed"
    t = await tasks_by_name(db, wf)
    assert (t["b"]["status"], t["c"]["status"]) == ("skipped", "skipped")
    assert t["b"]["error"] == "skipped: upstream task 'a' failed"
    assert t["a"]["error"] == "balance unstable"
    assert await status_of(db, wf) == "running"  # the other branch is still going
    await run_task(db, wf, "other")
    await run_task(db, wf, "after-other")
    row = await db.fetchrow(
        "SELECT status, tasks_failed, tasks_unfinished FROM workflows WHERE id = $1", wf
    )
    assert tuple(row) == ("failed", 1, 0)


async def test_a_failure_with_attempts_left_schedules_a_retry_with_backoff(db):
    wf = await submit(db, workflow(task("a", retry={"max_attempts": 2, "backoff_s": 0.2})))
    assert await run_task(db, wf, "a", "failed", error="first try") == "retrying"
    a = (await tasks_by_name(db, wf))["a"]
    assert (a["status"], a["attempt"], a["error"]) == ("pending", 1, "first try")
    delay = (a["retry_at"] - a["finished_at"]).total_seconds()
    assert 0.09 <= delay <= 0.21  # 50-100 % of backoff_s
    assert await db.fetchval(Q.queue_due_retries, "coordinator") == 0  # not due yet
    await asyncio.sleep(delay + 0.05)
    assert await db.fetchval(Q.queue_due_retries, "coordinator") == 1
    a = (await tasks_by_name(db, wf))["a"]
    assert (a["status"], a["attempt"]) == ("queued", 2)
    assert await run_task(db, wf, "a") == "succeeded"
    assert await status_of(db, wf) == "succeeded"
    attempts = await db.fetch("SELECT attempt, status, error FROM task_attempts ORDER BY attempt")
    assert [tuple(r) for r in attempts] == [(1, "failed", "first try"), (2, "succeeded", None)]


async def test_concurrent_results_of_a_fan_in_queue_the_join_exactly_once(db, database_url):
    wf = await submit(db, fan_out(50))
    await run_task(db, wf, "root")
    leaves = [r for n, r in (await tasks_by_name(db, wf)).items() if n.startswith("leaf-")]
    assert len(leaves) == 50 and all(r["status"] == "queued" for r in leaves)
    for leaf in leaves:
        assert await claim(db, leaf) is not None
    # Fifty transactions in flight together, each on a connection of its own.
    outcomes = await all_at_once(
        database_url, [lambda conn, leaf=leaf: finish(conn, leaf) for leaf in leaves]
    )
    assert outcomes == ["succeeded"] * 50
    join = (await tasks_by_name(db, wf))["join"]
    assert (join["status"], join["attempt"], join["deps_pending"]) == ("queued", 1, 0)
    await run_task(db, wf, "join")
    assert await status_of(db, wf) == "succeeded"


@pytest.mark.parametrize("action", ["cancel_workflow", "pause_workflow"])
async def test_results_racing_an_operator_action_leave_counters_that_match_the_tasks(
    db, database_url, action
):
    """However twenty results and a cancel or a pause interleave, the workflow's counters
    match its tasks and nothing starts in a cancelled or paused workflow (the guard for
    any change to how results and operator actions lock the workflow's row)."""
    wf = await submit(db, fan_out(40))
    await run_task(db, wf, "root")
    leaves = [r for n, r in (await tasks_by_name(db, wf)).items() if n.startswith("leaf-")]
    for leaf in leaves:
        assert await claim(db, leaf) is not None
    calls = [lambda conn, leaf=leaf: finish(conn, leaf) for leaf in leaves[:20]]
    calls.insert(10, lambda conn: conn.fetchval(getattr(Q, action), wf, "user:x", "race"))
    outcomes = await all_at_once(database_url, calls)
    assert outcomes.pop(10) == "ok"
    assert set(outcomes) <= {"succeeded", "stale"}

    t = await tasks_by_name(db, wf)
    row = await db.fetchrow("SELECT * FROM workflows WHERE id = $1", wf)
    assert row["tasks_unfinished"] == sum(
        r["status"] not in FINAL_TASK_STATUSES for r in t.values()
    )
    assert sum(r["status"] == "succeeded" for r in t.values()) == 1 + outcomes.count("succeeded")
    assert t["join"]["status"] in ("pending", "cancelled")  # never queued
    if action == "cancel_workflow":
        assert row["status"] == "cancelled" and row["tasks_unfinished"] == 0
    else:  # paused: the running leaves finish, nothing new starts
        assert row["status"] == "paused" and outcomes == ["succeeded"] * 20
        assert row["tasks_unfinished"] == 21


async def test_every_change_writes_history_and_an_outbox_event(db):
    wf = await submit(db, workflow(task("a")))
    await run_task(db, wf, "a")
    history = await db.fetch(Q.get_history, wf, None, 100_000)
    changes = [(h["task_name"], h["from_status"], h["to_status"], h["actor"]) for h in history]
    assert changes == [
        (None, None, "pending", "user:test"),
        (None, "pending", "running", "user:test"),  # started by its submit
        ("a", "pending", "queued", "user:test"),
        ("a", "queued", "running", "runner:r1"),
        ("a", "running", "succeeded", "runner:r1"),
        (None, "running", "succeeded", "runner:r1"),
    ]
    assert [h["reason"] for h in history[:2]] == ["submitted", "workflow started"]
    keys = [r["routing_key"] for r in await db.fetch("SELECT routing_key FROM outbox ORDER BY id")]
    assert keys == [  # no workflow.pending: the submit started it, nobody needs to
        "workflow.running",
        "task.queued.noop",
        "task.running.noop",
        "task.succeeded.noop",
        "workflow.succeeded",
    ]


async def test_history_is_append_only(db, owner_database_url):
    wf = await submit(db, workflow(task("a")))
    # The services' role may not change or delete the audit record at all...
    for sql in (
        "UPDATE history SET actor = 'mallory' WHERE workflow_id = $1",
        "DELETE FROM history WHERE workflow_id = $1",
        "UPDATE signatures SET meaning = 'approved' WHERE workflow_id = $1",
        "DELETE FROM audit_checkpoints WHERE $1::uuid IS NOT NULL",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await db.execute(sql, wf)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.execute("TRUNCATE history")
    # ...and the trigger refuses even the tables' owner (a second wall).
    owner = await asyncpg.connect(owner_database_url)
    try:
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await owner.execute("UPDATE history SET actor = 'mallory' WHERE workflow_id = $1", wf)
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await owner.execute("DELETE FROM history WHERE workflow_id = $1", wf)
    finally:
        await owner.close()


async def finish_and_claim(db, row, executors=("noop",), outcome="succeeded") -> asyncpg.Record:
    return await db.fetchrow(
        Q.finish_and_claim, row["id"], row["attempt"], outcome, {}, None, "runner:r1", None,
        list(executors), "r1",
    )  # fmt: skip


async def routing_keys(db, task_id) -> list[str]:
    rows = await db.fetch(
        "SELECT routing_key FROM outbox WHERE task_id = $1 AND event_type = 'task.queued'", task_id
    )
    return [r["routing_key"] for r in rows]


async def test_a_success_hands_one_freshly_queued_dependent_to_its_runner(db):
    wf = await submit(db, fan_out(3))
    root = (await tasks_by_name(db, wf))["root"]
    assert await claim(db, root) is not None

    answer = await finish_and_claim(db, root)
    assert answer["outcome"] == "succeeded"
    handed = answer["next"]
    t = await tasks_by_name(db, wf)
    leaves = {n: r for n, r in t.items() if n.startswith("leaf-")}
    # The first leaf (by position) is claimed for r1 in the same transaction...
    assert handed["name"] == "leaf-000" and handed["attempt"] == 1
    assert (t["leaf-000"]["status"], t["leaf-000"]["runner_id"]) == ("running", "r1")
    # ...and its queued event is withdrawn (its running event says more); the others go to
    # the runners' queues.
    assert await routing_keys(db, t["leaf-000"]["id"]) == []
    running = "SELECT count(*) FROM outbox WHERE task_id = $1 AND event_type = 'task.running'"
    assert await db.fetchval(running, t["leaf-000"]["id"]) == 1
    for name in ("leaf-001", "leaf-002"):
        assert leaves[name]["status"] == "queued"
        assert await routing_keys(db, leaves[name]["id"]) == ["task.queued.noop"]

    # A result that queues nothing, or a runner serving other executors, gets no next task.
    quiet = await finish_and_claim(db, t["leaf-000"])
    assert (quiet["outcome"], quiet["next"]) == ("succeeded", None)
    assert await claim(db, leaves["leaf-001"]) is not None
    other = await finish_and_claim(db, leaves["leaf-001"], executors=("python",))
    assert (other["outcome"], other["next"]) == ("succeeded", None)
    # Nor does a failure (here one with attempts left): the join stays pending.
    assert await claim(db, leaves["leaf-002"]) is not None
    failed = await finish_and_claim(db, leaves["leaf-002"], outcome="failed")
    assert (failed["outcome"], failed["next"]) == ("retrying", None)
    assert (await tasks_by_name(db, wf))["join"]["status"] == "pending"



READS = """SELECT relname, seq_scan, coalesce(idx_tup_fetch, 0) AS fetched
           FROM pg_stat_xact_user_tables WHERE relname IN ('tasks', 'workflows', 'outbox')"""


async def reads_of(conn, call) -> dict[str, tuple[int, int]]:
    """(seq scans, rows fetched by index) of each table while `call` ran: counted in its
    own transaction, so that no flush of the counts happens in between."""
    async with conn.transaction():
        before = {r["relname"]: r for r in await conn.fetch(READS)}
        await call()
        after = {r["relname"]: r for r in await conn.fetch(READS)}
    zero = {"seq_scan": 0, "fetched": 0}
    return {
        name: (r["seq_scan"] - before.get(name, zero)["seq_scan"],
               r["fetched"] - before.get(name, zero)["fetched"])
        for name, r in after.items()
    }  # fmt: skip


async def test_a_wide_fan_outs_results_read_their_rows_by_key_whatever_the_plans(db):
    """The plans a connection cached while the tables were small (and no statistics: this
    machine's PostgreSQL runs without autovacuum) must not read every queued task, nor the
    whole outbox, once a wide fan-out has queued 2,000: that made a 10,000-task fan-out
    quadratic (12,000 buffers per claim)."""
    async with db.acquire() as conn:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        for width in (3, 3, 3, 2_000):  # plans cached first on the small workflows
            spec = WorkflowSpec.model_validate(fan_out(width))
            wf, _ = await store.create_workflow(conn, spec, "user:test", None)
            t = await tasks_by_name(conn, wf)
            assert await claim(conn, t["root"]) is not None
            assert (await finish_and_claim(conn, t["root"]))["next"]["name"] == "leaf-000"
            t = await tasks_by_name(conn, wf)

            async def claimed(row=t["leaf-001"]) -> None:
                assert await claim(conn, row) is not None

            async def finished(row=t["leaf-000"]) -> None:
                assert (await finish_and_claim(conn, row))["outcome"] == "succeeded"

            for call in (claimed, finished):
                reads = await reads_of(conn, call)
                assert {name: seq for name, (seq, _) in reads.items()} == {
                    "tasks": 0, "workflows": 0, "outbox": 0
                }, reads  # fmt: skip
                assert reads["tasks"][1] < 20, reads  # not the 1,998 queued leaves
        await conn.execute("RESET plan_cache_mode")  # the pool keeps sessions as they are
