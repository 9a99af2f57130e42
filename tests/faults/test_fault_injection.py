"""Kill any part of LAF at any moment: every workflow finishes, nothing runs twice, and
nothing had to be repaired that no fault should have lost.

A stream of DAG-shaped workflows (ten `local` tasks each) runs through the services as
processes while, one after another, faults strike: the listener, the coordinator, a runner
and the API killed with SIGKILL and started again; every broker connection force-closed;
the RabbitMQ node stopped and started; PostgreSQL stopped in immediate mode and started
(crash recovery); and a second runner killed for good. A fault counts only when the suite
saw it strike (the process gone, the node's port refusing, the database refusing
connections) while at least one attempt was running and at least one submit was in flight.

Every task appends "<task id> <attempt>" to a side-effect file, so executions are counted
outside LAF. The reconciler runs slowly here (a workflow waits 45 s before the sweep starts
it, a queued task 45 s before it is announced again), so a lost message shows as a repair,
and the coordinator's repairs (its one log line per repair batch, checked against its
/metrics) are asserted: none at all for the faults that lose nothing by design, and for the
runner that never comes back exactly its running attempts failed as lost.

Size: LAF_FAULTS_WORKFLOWS (default 32; the README gives a larger run).
Modes: LAF_FAULTS_RABBITMQ=restart|disconnect, LAF_FAULTS_POSTGRES=restart|terminate
(restart is the real thing and the default; the others only cut this test's connections,
for a machine whose servers other work must not lose).
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from devstack import Stack, running_stack
from laf_core.db.pool import create_pool
from laf_core.testing import infra
from laf_core.testing.factories import TEN_TASK_SHAPE, ten_task_dag
from tests.faults import strikes
from tests.faults.conftest import SUMMARIES

WORKFLOWS = int(os.environ.get("LAF_FAULTS_WORKFLOWS", "32"))
RABBITMQ_MODE = os.environ.get("LAF_FAULTS_RABBITMQ", "restart")
POSTGRES_MODE = os.environ.get("LAF_FAULTS_POSTGRES", "restart")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "faults"
DOOMED = "runner-doomed"  # the runner killed for good
DOOMED_FAULT = f"kill -9 {DOOMED} for good"
CLAIM_PATH = ("kill -9 api", "kill -9 runner")  # where a claim can be lost in flight
REPAIR_KINDS = (
    "tasks_redispatched",
    "workflows_started_by_sweep",
    "attempts_failed_stuck",
    "slots_granted_by_sweep",
)
SETTLE_S = 150.0


def document(n: int, effects: Path) -> dict:
    record = ["sh", "-c", f'echo "$LAF_TASK_ID $LAF_ATTEMPT" >> {effects}; sleep 0.2']
    return ten_task_dag(
        f"fault stream {n}",
        executor="local",
        params={"command": record},
        labels={"suite": "faults"},
    )


class Submitter:
    """Submits the stream paced, retrying through outages with an Idempotency-Key (so a
    retry never makes a second workflow). Never raises: what could not be submitted is
    simply missing from `ids`, and counted lost."""

    def __init__(self, api_url: str, effects: Path, headers: dict[str, str]) -> None:
        self.api_url = api_url
        self.headers = headers
        self.effects = effects
        self.ids: list[str] = []
        self.in_flight = 0
        self.at_gate = False  # the batch holds its last submit for the fault
        self.retried = 0
        self.next = 0

    async def submit(self, client: httpx.AsyncClient, n: int) -> None:
        key = f"faults-{n}-{uuid.uuid4()}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            self.in_flight += 1
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
            finally:
                self.in_flight -= 1
            self.retried += 1
            await asyncio.sleep(0.2)

    async def batch(self, count: int, gate: asyncio.Event | None = None) -> None:
        """Submit the next `count` workflows paced over about two seconds, two at a time
        at most; the last one only once `gate` is set (so a fault can strike during it)."""
        pace_s = max(0.1, 2.0 / max(count, 1))
        async with httpx.AsyncClient(
            base_url=self.api_url, timeout=10, headers=self.headers
        ) as client:
            running: set[asyncio.Task[None]] = set()
            for i in range(count):
                n, self.next = self.next, self.next + 1
                while len(running) >= 2:
                    _, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                if gate is not None and i == count - 1:
                    self.at_gate = True
                    await gate.wait()
                    self.at_gate = False
                running.add(asyncio.create_task(self.submit(client, n)))
                await asyncio.sleep(pace_s)
            await asyncio.gather(*running)


async def statuses(db: asyncpg.Pool, ids: list[str]) -> dict[str, int]:
    rows = await db.fetch(
        "SELECT status, count(*) FROM workflows WHERE id = ANY($1) GROUP BY status",
        [uuid.UUID(i) for i in ids],
    )
    return {r["status"]: r["count"] for r in rows}


async def settle(db: asyncpg.Pool, ids: list[str], limit_s: float) -> dict[str, int]:
    """Wait (bounded) until every workflow in `ids` ended; returns their statuses. Asserts
    nothing: the verdict comes after `lost` is counted."""
    deadline = time.monotonic() + limit_s
    states: dict[str, int] = {}
    while time.monotonic() < deadline:
        try:
            states = await statuses(db, ids)
            if sum(states.get(s, 0) for s in ("succeeded", "failed", "cancelled")) == len(ids):
                break
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            states = {"database": 1}
        await asyncio.sleep(0.25)
    return states


class Repairs:
    """The coordinator's repairs, read from its log (one JSON line per repair batch; the
    log survives its restarts) and checked against its /metrics."""

    def __init__(self, stack: Stack) -> None:
        self.path = stack.log_dir / "coordinator.log"
        self.offset = 0

    def since_last(self) -> dict[str, int]:
        """The repairs logged since the previous call."""
        with self.path.open("rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        found: collections.Counter[str] = collections.Counter()
        for line in data[:end].splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("repairs"), dict):
                found.update(entry["repairs"])
        return dict(found)


@dataclass
class Fault:
    name: str
    struck: bool = False
    running_at_strike: int = 0
    submits_in_flight: int = 0
    repairs: dict[str, int] = field(default_factory=dict)
    settled: dict[str, int] = field(default_factory=dict)
    began: datetime | None = None  # the database's clock when the phase began,
    struck_at: datetime | None = None  # just before the strike,
    recovered_at: datetime | None = None  # and once the stack was ready again


@pytest.fixture
async def stack(pg_template, tmp_path):
    logs = ARTIFACTS / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    settings = {
        "LAF_RUNNER_HEARTBEAT_S": "1",
        "LAF_RUNNER_CONCURRENCY": "4",
        "LAF_RUNNER_WORKDIR": str(tmp_path / "runner"),
        "LAF_COORDINATOR_SWEEP_S": "0.5",
        # Longer than any outage here (an API restart on a loaded 2-core machine takes several
        # seconds): a live attempt failed as lost would be a false repair.
        "LAF_COORDINATOR_HEARTBEAT_TIMEOUT_S": "25",
        # Slow on purpose: a lost message must show as a repair, not be quietly mended.
        "LAF_COORDINATOR_START_GRACE_S": "45",
        "LAF_COORDINATOR_REDISPATCH_AFTER_S": "45",
    }
    async with running_stack(pg_template, logs, **settings) as stack:
        stack.start("runner", DOOMED, LAF_RUNNER_WORKDIR=str(tmp_path / DOOMED))
        await asyncio.to_thread(stack.wait_ready, 60, [DOOMED])
        yield stack


@pytest.mark.timeout(1200)
async def test_no_workflow_is_lost_no_attempt_runs_twice_and_nothing_needed_repair(stack, tmp_path):
    effects = tmp_path / "effects.log"
    effects.touch()
    db = await create_pool(infra.database_url(stack.database), min_size=1, max_size=2)
    submitter = Submitter(stack.api_url, effects, stack.auth_headers)
    repairs = Repairs(stack)
    cluster = await strikes.PostgresCluster.of_tests() if POSTGRES_MODE == "restart" else None
    amqp_url = stack.env["LAF_AMQP_URL"]
    doomed_attempts: set[tuple[uuid.UUID, int]] = set()

    async def restart(name: str) -> bool:
        gone = stack.stop(name, sig=9) == -9
        stack.start(name)
        await asyncio.to_thread(stack.wait_ready, 60, [name])
        return gone

    async def kill_doomed() -> bool:
        gone = stack.stop(DOOMED, sig=9) == -9
        await asyncio.sleep(1.0)  # let requests it sent before dying land
        rows = await db.fetch(
            "SELECT id, attempt FROM tasks WHERE status = 'running' AND runner_id = $1", DOOMED
        )
        doomed_attempts.update((r["id"], r["attempt"]) for r in rows)
        return gone and bool(rows)

    async def broker_node() -> bool:
        if RABBITMQ_MODE != "restart":
            return await asyncio.to_thread(strikes.close_vhost_connections, stack.vhost) > 0
        down = await asyncio.to_thread(strikes.stop_and_start_rabbitmq_node, amqp_url)
        await asyncio.to_thread(stack.wait_ready, 90)
        return down

    async def broker_cut() -> bool:
        cut = await asyncio.to_thread(strikes.close_vhost_connections, stack.vhost)
        await asyncio.to_thread(stack.wait_ready, 60)
        return cut > 0

    async def database() -> bool:
        nonlocal db
        await db.close()
        if cluster is not None:
            refused = await cluster.crash_restart()
        else:
            refused = await strikes.terminate_connections(stack.database)
        db = await create_pool(infra.database_url(stack.database), min_size=1, max_size=2)
        await asyncio.to_thread(stack.wait_ready, 90)
        return refused

    plan: list[tuple[str, Callable[[], Awaitable[bool]], str | None]] = [
        ("kill -9 listener", lambda: restart("listener"), None),
        ("kill -9 coordinator", lambda: restart("coordinator"), None),
        ("kill -9 runner", lambda: restart("runner"), "runner"),
        ("kill -9 api", lambda: restart("api"), None),
        ("broker connections force-closed", broker_cut, None),
        (
            "RabbitMQ node "
            + ("stopped and started" if RABBITMQ_MODE == "restart" else "connections closed"),
            broker_node,
            None,
        ),
        (
            "PostgreSQL "
            + (
                "stopped in immediate mode and started"
                if POSTGRES_MODE == "restart"
                else "connections terminated"
            ),
            database,
            None,
        ),
        (DOOMED_FAULT, kill_doomed, DOOMED),
    ]
    faults: list[Fault] = []
    per_batch = max(2, WORKFLOWS // (len(plan) + 1))
    try:
        for name, strike, on_runner in plan:
            fault = Fault(name, began=await db.fetchval("SELECT clock_timestamp()"))
            faults.append(fault)
            gate = asyncio.Event()
            feeding = asyncio.create_task(submitter.batch(per_batch, gate))
            # Strike while work is in flight: an attempt running (on the runner to be
            # killed, for a runner fault) and a submit under way (the batch holds its last
            # submit until an attempt runs, then the fault strikes while it is sent).
            deadline = time.monotonic() + 60

            async def running_now(on_runner: str | None = on_runner) -> int:
                return int(
                    await db.fetchval(
                        # On a runner to be killed: attempts that started just now, so
                        # they are mid-run (each sleeps 0.2 s), not reporting already.
                        "SELECT count(*) FROM tasks WHERE status = 'running' AND ($1::text"
                        " IS NULL OR (runner_id = $1 AND started_at > clock_timestamp()"
                        " - interval '80 milliseconds'))",
                        on_runner,
                    )
                )

            running = 0
            while time.monotonic() < deadline and not submitter.at_gate:
                await asyncio.sleep(0.01)
            while time.monotonic() < deadline and not (running := await running_now()):
                await asyncio.sleep(0.01)
            fault.struck_at = await db.fetchval("SELECT clock_timestamp()")
            gate.set()
            while time.monotonic() < deadline and not submitter.in_flight:
                await asyncio.sleep(0.001)
            if running and submitter.in_flight:
                fault.running_at_strike = running
                fault.submits_in_flight = submitter.in_flight
                fault.struck = await strike()
                fault.recovered_at = await db.fetchval("SELECT clock_timestamp()")
            await feeding
            fault.settled = await settle(db, submitter.ids, SETTLE_S)
            fault.repairs = repairs.since_last()
        # The tail of the stream, after every fault.
        await submitter.batch(WORKFLOWS - submitter.next)
        await settle(db, submitter.ids, SETTLE_S)
        tail = repairs.since_last()

        # --- Counted before any verdict.
        ids = [uuid.UUID(i) for i in submitter.ids]
        final = await statuses(db, submitter.ids)
        lost = WORKFLOWS - final.get("succeeded", 0)
        tasks = await db.fetch(
            "SELECT id, status, attempt FROM tasks WHERE workflow_id = ANY($1)", ids
        )
        attempts = await db.fetch(
            "SELECT a.task_id, a.attempt, a.status, a.error, a.runner_id, a.started_at,"
            " a.finished_at"
            " FROM task_attempts a"
            " JOIN tasks t ON t.id = a.task_id WHERE t.workflow_id = ANY($1)",
            ids,
        )
        executions = collections.Counter(
            (uuid.UUID(task_id), int(attempt))
            for task_id, attempt in (
                line.split() for line in effects.read_text().splitlines() if line.strip()
            )
        )
        duplicated = sum(count - 1 for count in executions.values() if count > 1)
        total: collections.Counter[str] = collections.Counter(tail)
        for fault in faults:
            total.update(fault.repairs)
        struck = [f for f in faults if f.struck]
        summary = (
            f"fault-injection: workflows={WORKFLOWS} tasks={len(tasks)} "
            f"faults_struck={len(struck)}/{len(faults)} lost={lost} duplicated={duplicated} "
            f"repairs={json.dumps(dict(sorted(total.items())), separators=(',', ':'))}"
        )
        details = [
            f"  {f.name}: {'struck' if f.struck else 'DID NOT STRIKE'} with "
            f"{f.running_at_strike} running, {f.submits_in_flight} submit(s) in flight; "
            f"repairs {f.repairs or 'none'}"
            for f in faults
        ] + [f"  submits retried: {submitter.retried}"]
        SUMMARIES.extend([summary, *details])
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        causes = collections.Counter(
            (a["error"] or "").split(" (")[0][:80] for a in attempts if a["status"] == "failed"
        )
        (ARTIFACTS / "summary.txt").write_text(
            "\n".join([summary, *details])
            + "\n"
            + "".join(f"  failed attempt: {n} x {cause}\n" for cause, n in causes.most_common())
        )

        # --- The verdict.
        assert lost == 0, f"{lost} workflow(s) lost: {final}"
        assert duplicated == 0, "a (task, attempt) ran twice"
        assert all(f.struck for f in faults), "\n".join(details)
        assert len(tasks) == WORKFLOWS * len(TEN_TASK_SHAPE)
        # Every succeeded task's final attempt ran: its side effect is there, exactly once.
        for t in tasks:
            assert t["status"] == "succeeded"
            assert executions[(t["id"], t["attempt"])] == 1, (
                f"task {t['id']} succeeded with attempt {t['attempt']}, which never ran"
            )
        recorded = {(a["task_id"], a["attempt"]): a for a in attempts}
        succeeded = collections.Counter(
            a["task_id"] for a in attempts if a["status"] == "succeeded"
        )
        assert set(succeeded.values()) == {1} and len(succeeded) == len(tasks)
        by_task = {t["id"]: t for t in tasks}
        for task_id, attempt in executions:
            assert (task_id, attempt) in recorded, f"attempt {attempt} of {task_id} not on record"
            if attempt < by_task[task_id]["attempt"]:
                assert recorded[(task_id, attempt)]["status"] == "failed"
        # Repairs: nothing re-announced, no workflow started by the sweep, no slot handed on
        # by it. Attempts failed as lost only where that is the designed answer: those
        # running on the runner killed for good, and those claimed in the instant the API or
        # the runner died (the claim committed, but its answer never reached the runner,
        # whose retry is refused, or the runner died before the attempt had its folder):
        # the attempt is nobody's until the reconciler fails it.
        stuck_by_fault: dict[str, set[tuple[uuid.UUID, int]]] = {f.name: set() for f in faults}
        for a in attempts:
            if a["status"] != "failed":
                continue
            phase = [f for f in faults if f.began and f.began <= a["finished_at"]]
            name = phase[-1].name if phase else "?"
            if (a["error"] or "").startswith("lost: runner "):  # the reconciler's words
                stuck_by_fault[name].add((a["task_id"], a["attempt"]))
            else:
                # The runner's own answer, on its restart, for a process it started in the
                # instant it was killed, before it could note the pid: failed, retried.
                assert name == "kill -9 runner", (name, a["error"])
                assert a["error"] == "lost: the process ended while its runner was down"
        for fault in faults:
            stuck = stuck_by_fault[fault.name]
            expected = {"attempts_failed_stuck": len(stuck)} if stuck else {}
            assert fault.repairs == expected, f"{fault.name} needed repairs: {fault.repairs}"
            if fault.name == DOOMED_FAULT:
                assert doomed_attempts and stuck == doomed_attempts
            elif fault.name in CLAIM_PATH:
                assert fault.struck_at and fault.recovered_at
                on_record = {(a["task_id"], a["attempt"]): a for a in attempts}
                for key in stuck:
                    a = on_record[key]
                    assert (
                        fault.struck_at - timedelta(seconds=1)
                        <= a["started_at"]
                        <= fault.recovered_at
                    ), f"attempt {key} lost outside the instant of {fault.name}"
                    if fault.name == "kill -9 runner":
                        assert a["runner_id"] == "runner"
            else:
                assert not stuck, f"{fault.name} lost attempts {stuck}"
        assert not tail, f"the tail of the stream needed repairs: {tail}"
        # The coordinator's /metrics agree with its log since it last started (fault 2).
        counters = await asyncio.to_thread(stack.counters, "coordinator")
        since_restart: collections.Counter[str] = collections.Counter(tail)
        for fault in faults[2:]:
            since_restart.update(fault.repairs)
        assert {k: int(counters.get(k, 0)) for k in REPAIR_KINDS} == {
            k: since_restart.get(k, 0) for k in REPAIR_KINDS
        }

        async with asyncio.timeout(30):
            while await db.fetchval("SELECT count(*) FROM outbox"):
                await asyncio.sleep(0.2)
            while True:
                backlog = await asyncio.to_thread(infra.queue_backlog, stack.vhost)
                if not any(sum(counts) for counts in backlog.values()):
                    break
                await asyncio.sleep(0.5)
    finally:
        await db.close()
