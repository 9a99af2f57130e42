"""Kill any part of LAF at any moment: every workflow still finishes, nothing runs twice.

A steady stream of DAG-shaped workflows runs through the four services as
processes while, one after another, the listener, the coordinator, a runner
and the API are killed with SIGKILL and restarted after a pause; then
RabbitMQ is restarted; then PostgreSQL. After each fault, every workflow
submitted so far must succeed. Every task is a `local` process that appends
"<task id> <attempt>" to a side-effect file, so executions are counted
outside LAF. At the end: no workflow lost, no (task, attempt) executed twice,
a task executed again only as a new recorded attempt after a crash, the
outbox empty, no message left in or unacked on a durable queue.

Size: LAF_FAULTS_WORKFLOWS (default 40 here; the README gives a larger run).
Modes: LAF_FAULTS_RABBITMQ=restart|disconnect, LAF_FAULTS_POSTGRES=restart|terminate
(restart is the real thing and the default; the others only cut this test's
connections, for a machine whose servers other work shares).
"""

import asyncio
import collections
import os
import subprocess
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from laf_core.db.pool import create_pool
from laf_core.testing import infra
from laf_core.testing.factories import TEN_TASK_SHAPE, ten_task_dag
from tests.faults.conftest import SUMMARIES

WORKFLOWS = int(os.environ.get("LAF_FAULTS_WORKFLOWS", "40"))
RABBITMQ_MODE = os.environ.get("LAF_FAULTS_RABBITMQ", "restart")
POSTGRES_MODE = os.environ.get("LAF_FAULTS_POSTGRES", "restart")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "faults"
SHAPE = {
    "a": [],
    "b": ["a"],
    "c": ["a"],
    "d": ["a"],
    "e": ["b", "c", "d"],
    "f": ["e"],
    "g": ["e"],
    "h": ["e"],
    "i": ["f", "g", "h"],
    "j": ["i"],
}


def document(n: int, effects: Path) -> dict:
    record = ["sh", "-c", f'echo "$LAF_TASK_ID $LAF_ATTEMPT" >> {effects}; sleep 0.2']
    return ten_task_dag(
        f"fault stream {n}",
        executor="local",
        params={"command": record},
        labels={"suite": "faults"},
    )


class Submitter:
    """Submits the stream, retrying through outages with an Idempotency-Key (no duplicates)."""

    def __init__(self, api_url: str, effects: Path) -> None:
        self.api_url = api_url
        self.effects = effects
        self.ids: list[str] = []

    async def submit(self, client: httpx.AsyncClient, n: int) -> None:
        key = f"faults-{n}-{uuid.uuid4()}"
        for _ in range(600):
            try:
                response = await client.post(
                    "/api/workflows",
                    json=document(n, self.effects),
                    headers={"Idempotency-Key": key},
                )
                if response.status_code in (200, 201):
                    self.ids.append(response.json()["id"])
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
        raise AssertionError(f"workflow {n} could not be submitted for two minutes")

    async def run(self, numbers: range) -> None:
        async with httpx.AsyncClient(base_url=self.api_url, timeout=10) as client:
            for n in numbers:
                await self.submit(client, n)


async def all_succeeded(db: asyncpg.Pool, ids: list[str], limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    wanted = [uuid.UUID(i) for i in ids]
    while True:
        try:
            rows = await db.fetch(
                "SELECT status, count(*) FROM workflows WHERE id = ANY($1) GROUP BY status", wanted
            )
            states = {r["status"]: r["count"] for r in rows}
            if states.get("succeeded", 0) == len(wanted):
                return
            assert not states.get("failed") and not states.get("cancelled"), (
                f"workflows ended badly: {states}"
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            states = {"database": "unreachable"}
        if time.monotonic() > deadline:
            raise AssertionError(f"after {limit_s}s: {states} of {len(wanted)} workflows")
        await asyncio.sleep(0.25)


def rabbitmqctl(*args: str) -> str:
    return subprocess.run(
        ["rabbitmqctl", "-q", *args], check=True, capture_output=True, text=True, timeout=120
    ).stdout


def restart_rabbitmq(vhost: str) -> None:
    if RABBITMQ_MODE == "restart":
        rabbitmqctl("stop_app")
        time.sleep(1)
        rabbitmqctl("start_app")
        rabbitmqctl("await_startup", "--timeout", "60")
    else:
        for line in rabbitmqctl("list_connections", "pid", "vhost").splitlines():
            pid, _, conn_vhost = line.partition("\t")
            if conn_vhost == vhost:
                subprocess.run(
                    ["rabbitmqctl", "-q", "close_connection", pid, "fault injection"],
                    check=False,
                    capture_output=True,
                )


async def restart_postgres(database: str) -> None:
    if POSTGRES_MODE == "restart":
        version = sorted(os.listdir("/etc/postgresql"))[-1]
        await asyncio.to_thread(
            subprocess.run,
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
            check=True,
            capture_output=True,
            timeout=120,
        )
    else:
        conn = await asyncpg.connect(infra.database_url("postgres"))
        try:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                database,
            )
        finally:
            await conn.close()


def queue_backlog(vhost: str) -> dict[str, tuple[int, int]]:
    out = rabbitmqctl(
        "list_queues", "-p", vhost, "name", "messages_ready", "messages_unacknowledged"
    )
    backlog = {}
    for line in out.splitlines():
        name, ready, unacked = line.split("\t")
        if name.startswith("laf.") and name != "laf.dead-letters":
            backlog[name] = (int(ready), int(unacked))
    return backlog


@pytest.fixture
async def stack(pg_template, tmp_path):
    settings = {
        "LAF_RUNNER_HEARTBEAT_S": "1",
        "LAF_RUNNER_CONCURRENCY": "8",
        "LAF_RUNNER_WORKDIR": str(tmp_path),
        "LAF_COORDINATOR_SWEEP_S": "0.5",
        "LAF_COORDINATOR_HEARTBEAT_TIMEOUT_S": "6",
        "LAF_COORDINATOR_REDISPATCH_AFTER_S": "10",
    }
    async with infra.running_stack(pg_template, ARTIFACTS, **settings) as stack:
        yield stack


@pytest.mark.timeout(900)
async def test_no_workflow_is_lost_and_no_attempt_runs_twice_whatever_crashes(stack, tmp_path):
    effects = tmp_path / "effects.log"
    effects.touch()
    db = await create_pool(infra.database_url(stack.database), min_size=1, max_size=2)
    submitter = Submitter(stack.api_url, effects)
    faults: list[str] = []
    # One batch of the stream before each of the six faults and one after: every fault
    # strikes while the batch before it is mid-flight.
    batches = [range(WORKFLOWS)[i::7] for i in range(7)]
    feeding = asyncio.create_task(asyncio.sleep(0))

    async def feed() -> None:
        nonlocal feeding
        await feeding
        feeding = asyncio.create_task(submitter.run(batches.pop(0)))
        await asyncio.sleep(0.8)  # let its tasks start running

    async def crash_and_restart(name: str) -> None:
        stack.kill(name)
        faults.append(f"kill -9 {name}")
        await asyncio.sleep(1.0)
        stack.start(name)
        await asyncio.to_thread(stack.wait_ready, 60, [name])

    async def settle(after: str) -> None:
        await asyncio.sleep(0.5)
        ids = list(submitter.ids)
        try:
            await all_succeeded(db, ids, 120)
        except AssertionError as exc:
            raise AssertionError(f"after {after}: {exc}") from None

    try:
        for name in ("listener", "coordinator", "runner", "api"):
            await feed()
            await crash_and_restart(name)
            await settle(f"kill -9 {name}")

        await feed()
        await asyncio.to_thread(restart_rabbitmq, stack.vhost)
        faults.append(f"RabbitMQ {RABBITMQ_MODE}")
        await asyncio.to_thread(stack.wait_ready, 60)
        await settle("the RabbitMQ restart")

        await feed()
        await db.close()
        await restart_postgres(stack.database)
        faults.append(f"PostgreSQL {POSTGRES_MODE}")
        db = await create_pool(infra.database_url(stack.database), min_size=1, max_size=2)
        await asyncio.to_thread(stack.wait_ready, 60)
        await settle("the PostgreSQL restart")
        await feed()
        await feeding
        await settle("the last batch")

        # --- The ledger.
        ids = [uuid.UUID(i) for i in submitter.ids]
        assert len(set(ids)) == WORKFLOWS, "the stream was not submitted exactly once each"
        tasks = await db.fetch(
            "SELECT id, status, attempt FROM tasks WHERE workflow_id = ANY($1)", ids
        )
        assert len(tasks) == WORKFLOWS * len(TEN_TASK_SHAPE)
        assert {t["status"] for t in tasks} == {"succeeded"}
        attempts = await db.fetch(
            "SELECT a.task_id, a.attempt, a.status, a.error FROM task_attempts a JOIN tasks t ON t.id = a.task_id"
            " WHERE t.workflow_id = ANY($1)",
            ids,
        )
        succeeded = collections.Counter(
            a["task_id"] for a in attempts if a["status"] == "succeeded"
        )
        assert set(succeeded.values()) == {1} and len(succeeded) == len(tasks), (
            "a task succeeded twice"
        )
        recorded = {(a["task_id"], a["attempt"]): a for a in attempts}

        executions = collections.Counter(
            (uuid.UUID(task_id), int(attempt))
            for task_id, attempt in (
                line.split() for line in effects.read_text().splitlines() if line.strip()
            )
        )
        duplicated = sum(count - 1 for count in executions.values() if count > 1)
        by_task = {t["id"]: t for t in tasks}
        for (task_id, attempt), _ in executions.items():
            assert task_id in by_task, "an execution of a task outside the stream"
            assert (task_id, attempt) in recorded, (
                f"attempt {attempt} of {task_id} ran but is not on record"
            )
            final = by_task[task_id]["attempt"]
            if attempt < final:
                assert recorded[(task_id, attempt)]["status"] == "failed", (
                    "an earlier attempt ran but was not failed"
                )
        reattempted = sum(1 for t in tasks if t["attempt"] > 1)
        for t in tasks:
            for earlier in range(1, t["attempt"]):
                assert recorded[(t["id"], earlier)]["status"] == "failed"
        lost = WORKFLOWS - sum(
            1
            for t in await db.fetch("SELECT status FROM workflows WHERE id = ANY($1)", ids)
            if t["status"] == "succeeded"
        )

        async with asyncio.timeout(30):
            while await db.fetchval("SELECT count(*) FROM outbox"):
                await asyncio.sleep(0.2)
            while True:
                backlog = await asyncio.to_thread(queue_backlog, stack.vhost)
                if not any(sum(counts) for counts in backlog.values()):
                    break
                await asyncio.sleep(0.5)

        summary = (
            f"fault-injection: workflows={WORKFLOWS} tasks={len(tasks)} faults={len(faults)} "
            f"lost={lost} duplicated={duplicated} re-attempts={reattempted} ({', '.join(faults)})"
        )
        SUMMARIES.append(summary)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        causes = collections.Counter(
            (a["error"] or "").split(" (")[0][:80] for a in attempts if a["status"] == "failed"
        )
        (ARTIFACTS / "summary.txt").write_text(
            summary
            + "\n"
            + "".join(f"  failed attempt: {n} x {cause}\n" for cause, n in causes.most_common())
        )
        assert lost == 0 and duplicated == 0
    finally:
        feeding.cancel()
        await asyncio.gather(feeding, return_exceptions=True)
        await db.close()
