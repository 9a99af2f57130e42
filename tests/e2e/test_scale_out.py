"""Replicas that cooperate: 2 APIs, 2 listeners, 3 coordinators and 3 runners on one
database and broker, with one replica of each kind killed (SIGKILL, not restarted) while
a few hundred mixed workflows run.

The mixed run: DAGs of no-op tasks, DAGs of `local` tasks, retries that succeed on the
third attempt, retries that run out, instrument steps competing for capacity-1
instruments, cancels and pause/resume. Every `local` task appends "<task id> <attempt>"
to a side-effect ledger, so executions are counted outside LAF. The APIs sit behind a
small TCP balancer (tests/e2e/balancer.py), as behind a Service in a cluster.

Asserted at the end: every workflow ended as its kind should; no (task, attempt) ran
twice and every execution is on record; no task succeeded twice; no instrument ran more
than one task at once (from the attempts' started_at and finished_at); the outbox and the
durable queues are empty; the surviving replicas are still up.

Printed (and written to test-artifacts/e2e/scale_out.txt): tasks/s of the same burst of
no-op DAGs with one replica of each and with the replica set. Size: LAF_SCALE_WORKFLOWS
(the no-op DAGs of the mixed run, default 120) and LAF_SCALE_BURST (default 60).
"""

import asyncio
import collections
import os
import random
import time
import uuid
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx
import pytest

from devstack import Stack, free_port, running_stack
from laf_core.db.pool import create_pool
from laf_core.testing import infra
from laf_core.testing.factories import TEN_TASK_SHAPE, task, workflow
from tests.e2e.balancer import Balancer

NOOP_DAGS = int(os.environ.get("LAF_SCALE_WORKFLOWS", "120"))
BURST = int(os.environ.get("LAF_SCALE_BURST", "60"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
FINAL = ("succeeded", "failed", "cancelled")
INSTRUMENTS = [f"scale-balance-{n}" for n in range(4)]
RETRY = {"max_attempts": 3, "backoff_s": 0.2, "max_backoff_s": 1}
# A lost runner is noticed after a few seconds here (production: 45 s).
SETTINGS = {
    "LAF_LOG_LEVEL": "WARNING",
    "LAF_RUNNER_HEARTBEAT_S": "1",
    "LAF_RUNNER_CONCURRENCY": "16",
    "LAF_COORDINATOR_SWEEP_S": "0.5",
    "LAF_COORDINATOR_HEARTBEAT_TIMEOUT_S": "5",
    "LAF_COORDINATOR_REDISPATCH_AFTER_S": "5",
}


def say(line: str, lines: list[str]) -> None:
    print(line, flush=True)  # noqa: T201 - the figures, for the terminal and the note
    lines.append(line)


def recorded(ledger: Path, then: str = "") -> list[str]:
    return ["sh", "-c", f'echo "$LAF_TASK_ID $LAF_ATTEMPT" >> {ledger}{then}']


def dag(name: str, executor: str = "noop", params: dict | None = None) -> dict:
    extra = {"params": params} if params else {}
    return workflow(
        *[
            task(n, *deps, executor=executor, retry=RETRY, **extra)
            for n, deps in TEN_TASK_SHAPE.items()
        ],
        name=name,
    )


def mixed(ledger: Path) -> list[tuple[str, dict]]:
    """(expected end, document) of every workflow of the mixed run, shuffled."""
    kinds: list[tuple[str, dict]] = []
    kinds += [("succeeded", dag(f"noop dag {n}")) for n in range(NOOP_DAGS)]
    kinds += [
        ("succeeded", dag(f"local dag {n}", "local", {"command": recorded(ledger)}))
        for n in range(max(NOOP_DAGS // 4, 4))
    ]
    for n in range(max(NOOP_DAGS // 3, 8)):
        step = task(
            "measure",
            "prepare",
            executor="local",
            instrument=INSTRUMENTS[n % len(INSTRUMENTS)],
            params={"command": recorded(ledger, "; sleep 0.05")},
            retry=RETRY,
        )
        kinds.append(
            ("succeeded", workflow(task("prepare", retry=RETRY), step, name=f"instrument {n}"))
        )
    third_time = recorded(ledger, '; test "$LAF_ATTEMPT" -ge 3 || exit 2')
    retry_more = {"max_attempts": 6, "backoff_s": 0.2, "max_backoff_s": 1}
    kinds += [
        (
            "succeeded",
            workflow(
                task("flaky", executor="local", params={"command": third_time}, retry=retry_more),
                task("after", "flaky", retry=RETRY),
                name=f"retry {n}",
            ),
        )
        for n in range(8)
    ]
    kinds += [
        (
            "failed",
            workflow(
                task(
                    "broken",
                    executor="local",
                    params={"command": recorded(ledger, "; exit 2")},
                    retry={"max_attempts": 2, "backoff_s": 0.1},
                ),
                task("never", "broken"),
                name=f"exhausted {n}",
            ),
        )
        for n in range(4)
    ]
    random.Random(15).shuffle(kinds)
    return kinds


def slow(name: str, seconds: float) -> dict:
    return workflow(
        task(
            "long",
            executor="python",
            params={"function": "laf_runner.library:sleep", "seconds": seconds},
            retry=RETRY,
        ),
        task("next", "long", retry=RETRY),
        task("last", "next", retry=RETRY),
        name=name,
    )


class Client:
    """Requests through the balancer, retried while a replica dies under them."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def call(self, method: str, path: str, ok: tuple[int, ...], **kwargs) -> httpx.Response:
        async with asyncio.timeout(60):
            while True:
                try:
                    response = await self.http.request(method, path, **kwargs)
                    if response.status_code in ok:
                        return response
                    if response.status_code < 500:
                        raise AssertionError(f"{method} {path}: {response.text}")
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)

    async def submit(self, document: dict) -> str:
        key = str(uuid.uuid4())  # a repeat after a dropped answer is the same workflow
        response = await self.call(
            "POST", "/api/workflows", (200, 201), json=document, headers={"Idempotency-Key": key}
        )
        return str(response.json()["id"])

    async def task_status(self, workflow_id: str, name: str) -> str:
        view = (await self.call("GET", f"/api/workflows/{workflow_id}", (200,))).json()
        return next(t["status"] for t in view["tasks"] if t["name"] == name)


async def wait_final(db: asyncpg.Pool, ids: list[str], limit_s: float) -> None:
    wanted = [uuid.UUID(i) for i in ids]
    async with asyncio.timeout(limit_s):
        while await db.fetchval(
            "SELECT count(*) FROM workflows WHERE id = ANY($1) AND status <> ALL($2)",
            wanted,
            list(FINAL),
        ):
            await asyncio.sleep(0.2)


async def burst(client: Client, db: asyncpg.Pool, label: str) -> float:
    """BURST no-op DAGs submitted at once: tasks finished per second, first submit to
    last finish (database clocks)."""
    gate = asyncio.Semaphore(16)

    async def one(n: int) -> str:
        async with gate:
            return await client.submit(dag(f"{label} {n}"))

    ids = await asyncio.gather(*(one(n) for n in range(BURST)))
    await wait_final(db, ids, 120)
    span = await db.fetchrow(
        "SELECT min(created_at) AS first, max(finished_at) AS last, "
        "count(*) FILTER (WHERE status = 'succeeded') AS ok FROM workflows WHERE id = ANY($1)",
        [uuid.UUID(i) for i in ids],
    )
    assert span["ok"] == BURST
    return BURST * len(TEN_TASK_SHAPE) / (span["last"] - span["first"]).total_seconds()


async def run_paused(client: Client, workflow_id: str) -> None:
    """Pause while the first task runs, resume once it finished."""
    async with asyncio.timeout(60):
        while await client.task_status(workflow_id, "long") != "running":
            await asyncio.sleep(0.05)
        await client.call(
            "POST", f"/api/workflows/{workflow_id}/pause", (200,), json={"reason": "scale test"}
        )
        while await client.task_status(workflow_id, "long") not in ("succeeded", "failed"):
            await asyncio.sleep(0.05)
        await client.call("POST", f"/api/workflows/{workflow_id}/resume", (200,))


async def run_cancelled(client: Client, workflow_id: str) -> None:
    async with asyncio.timeout(60):
        while await client.task_status(workflow_id, "long") != "running":
            await asyncio.sleep(0.05)
    await client.call(
        "POST", f"/api/workflows/{workflow_id}/cancel", (200,), json={"reason": "scale test"}
    )


def start_replicas(stack: Stack, balancer_url: str, workdir: Path, api_port: int) -> list[str]:
    started = [stack.start("api", name="api-2", LAF_API_PORT=str(api_port)).name]
    started += [stack.start("listener", name="listener-2").name]
    started += [stack.start("coordinator", name=f"coordinator-{n}").name for n in (2, 3)]
    started += [
        stack.start(
            "runner",
            name=f"runner-{n}",
            LAF_RUNNER_API_URL=balancer_url,
            LAF_RUNNER_WORKDIR=str(workdir / f"runner-{n}"),
        ).name
        for n in (2, 3)
    ]
    return started


def most_at_once(spans: list[tuple[datetime, datetime]]) -> int:
    return max((sum(1 for s, e in spans if s <= start < e) for start, _ in spans), default=0)


@pytest.mark.timeout(420)
async def test_replicas_cooperate_and_survive_losing_one_of_each(pg_template, tmp_path):
    ledger = tmp_path / "ledger.log"
    ledger.touch()
    lines: list[str] = []
    api_2_port = free_port()
    settings = {**SETTINGS, "LAF_RUNNER_WORKDIR": str(tmp_path / "runner-1")}
    async with running_stack(pg_template, ARTIFACTS / "scale_out", **settings) as stack:
        db = await create_pool(infra.database_url(stack.database), min_size=1, max_size=3)
        async with (
            Balancer([stack.api_port, api_2_port]) as balancer,
            httpx.AsyncClient(
                base_url=balancer.url,
                timeout=20,
                headers=stack.auth_headers,
                limits=httpx.Limits(max_connections=24),
            ) as http,
        ):
            client = Client(http)
            for instrument in INSTRUMENTS:
                body = {"id": instrument, "name": instrument, "kind": "test", "capacity": 1}
                await client.call("POST", "/api/instruments", (201,), json=body)

            # --- Throughput: one of each, then the replica set.
            await burst(client, db, "warm-up")
            one_each = await burst(client, db, "one of each")
            extra = start_replicas(stack, balancer.url, tmp_path, api_2_port)
            await asyncio.to_thread(stack.wait_ready, 90, extra)
            replicated = await burst(client, db, "replica set")

            # --- The mixed run, losing one replica of each kind on the way.
            plan = mixed(ledger)
            expected: dict[str, str] = {}
            gate = asyncio.Semaphore(8)
            submitted = 0

            async def submit(end: str, document: dict) -> None:
                nonlocal submitted
                async with gate:
                    expected[await client.submit(document)] = end
                    submitted += 1

            async def controlled(name: str, end: str, then) -> None:
                workflow_id = await client.submit(slow(name, 30 if end == "cancelled" else 0.8))
                expected[workflow_id] = end
                await then(client, workflow_id)

            killed: list[str] = []

            async def kill_one_of_each() -> None:
                async with asyncio.timeout(120):
                    while submitted < len(plan) // 5:
                        await asyncio.sleep(0.05)
                # The first runner reports to the first API directly: it goes first.
                for name in ("runner", "coordinator", "listener", "api"):
                    await asyncio.sleep(1.0)
                    stack.kill(name)
                    killed.append(name)

            began = time.monotonic()
            await asyncio.gather(
                kill_one_of_each(),
                *(submit(end, document) for end, document in plan),
                *(controlled(f"paused {n}", "succeeded", run_paused) for n in range(3)),
                *(controlled(f"cancelled {n}", "cancelled", run_cancelled) for n in range(3)),
            )
            await wait_final(db, list(expected), 240)
            took = time.monotonic() - began

            # --- Every workflow ended as it should.
            ids = [uuid.UUID(i) for i in expected]
            ends = {
                str(r["id"]): r["status"]
                for r in await db.fetch("SELECT id, status FROM workflows WHERE id = ANY($1)", ids)
            }
            wrong = {i: (ends[i], end) for i, end in expected.items() if ends[i] != end}
            assert not wrong, f"{len(wrong)} workflows ended otherwise (got, wanted): {wrong}"

            # --- No (task, attempt) ran twice; every execution is on record.
            attempts = await db.fetch(
                "SELECT a.task_id, a.attempt, a.status, a.started_at, a.finished_at,"
                " t.instrument FROM task_attempts a JOIN tasks t ON t.id = a.task_id"
                " WHERE t.workflow_id = ANY($1)",
                ids,
            )
            on_record = {(a["task_id"], a["attempt"]) for a in attempts}
            executions = collections.Counter(
                (uuid.UUID(task_id), int(attempt))
                for task_id, attempt in (line.split() for line in ledger.read_text().splitlines())
            )
            twice = {k: n for k, n in executions.items() if n > 1}
            assert not twice, f"attempts executed more than once: {twice}"
            unrecorded = set(executions) - on_record
            assert not unrecorded, f"executions with no attempt on record: {unrecorded}"
            wins = collections.Counter(a["task_id"] for a in attempts if a["status"] == "succeeded")
            assert set(wins.values()) <= {1}, "a task succeeded twice"

            # --- No instrument ever ran more tasks than its capacity (1) at once.
            spans: dict[str, list[tuple[datetime, datetime]]] = collections.defaultdict(list)
            for a in attempts:
                if a["instrument"] and a["started_at"]:
                    spans[a["instrument"]].append((a["started_at"], a["finished_at"]))
            assert set(spans) == set(INSTRUMENTS)
            crowded = {i: most_at_once(s) for i, s in spans.items() if most_at_once(s) > 1}
            assert not crowded, f"instruments over capacity: {crowded}"

            # --- Nothing left behind; the survivors carry on.
            async with asyncio.timeout(30):
                while await db.fetchval("SELECT count(*) FROM outbox"):
                    await asyncio.sleep(0.2)
                while any(
                    sum(c)
                    for c in (await asyncio.to_thread(infra.queue_backlog, stack.vhost)).values()
                ):
                    await asyncio.sleep(0.5)
            dead = [n for n, p in stack.processes.items() if p.popen.poll() is not None]
            assert not dead, f"survivors that died: {dead}"
            assert sorted(killed) == ["api", "coordinator", "listener", "runner"]

            tasks = await db.fetchval("SELECT count(*) FROM tasks WHERE workflow_id = ANY($1)", ids)
            reattempts = sum(1 for a in attempts if a["status"] == "failed")
            say("", lines)
            say(
                f"scale-out ({os.cpu_count()} cores, no-op DAGs of 10 tasks, {BURST} at once):",
                lines,
            )
            say(
                f"  one of each (1 api, 1 listener, 1 coordinator, 1 runner): {one_each:6.0f} tasks/s",
                lines,
            )
            say(
                f"  replica set (2 api, 2 listener, 3 coordinator, 3 runner): {replicated:6.0f} tasks/s",
                lines,
            )
            say(
                f"  mixed run: {len(ids)} workflows, {tasks} tasks, {len(executions)} recorded"
                f" executions, {reattempts} failed attempts, in {took:.1f} s while killing"
                f" {', '.join(killed)}",
                lines,
            )
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / "scale_out.txt").write_text("\n".join(lines) + "\n")
        await db.close()
