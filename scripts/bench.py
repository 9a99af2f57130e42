"""`make bench`: LAF's speed on this machine, measured on the real stack.

Starts the four services as processes on a throw-away database and vhost,
then measures with no-op tasks (DESIGN §10):
  - step hand-off: from one task's result being recorded to the next task
    starting, along a chain (p50 / p99);
  - submit -> first task: from the API's commit of a workflow to its root
    task starting (p50 / p99);
  - throughput: N workflows of 10 DAG-shaped tasks submitted at once, tasks
    finished per second from the first submit to the last finish;
  - the audit chain's cost: a history row written with and without its chaining
    trigger (hash, place in the chain, head).
Timestamps come from PostgreSQL (clock_timestamp() in the transitions).

`--tracing both` (the default) measures twice: tracing off, then on (every
service exporting its spans over OTLP/HTTP to a receiver in this process), and
prints what tracing costs; `--tracing off` or `on` measures once.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx

from devstack import running_stack
from laf_core.db.pool import create_pool
from laf_core.testing import infra
from laf_core.testing.factories import chain, ten_task_dag
from laf_core.testing.otlp import OtlpReceiver

FINAL = {"succeeded", "failed", "cancelled"}


def say(message: str) -> None:
    print(message, flush=True)  # noqa: T201 - a report for the terminal


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def wait_all(
    api: httpx.AsyncClient, db: asyncpg.Pool, ids: list[str], limit_s: float
) -> list[dict]:
    """Wait on the database (not the API, which is being measured), then fetch each once."""
    deadline = time.monotonic() + limit_s
    uuids = [uuid.UUID(i) for i in ids]
    while await db.fetchval(
        "SELECT count(*) FROM workflows WHERE id = ANY($1) AND status NOT IN ('succeeded', 'failed', 'cancelled')",
        uuids,
    ):
        if time.monotonic() > deadline:
            raise TimeoutError(f"workflows unfinished after {limit_s}s")
        await asyncio.sleep(0.05)
    return [(await api.get(f"/api/workflows/{i}")).json() for i in ids]


async def measure(
    api: httpx.AsyncClient,
    db: asyncpg.Pool,
    chain_length: int,
    workflows: int,
    singles: int,
    title: str = "",
) -> dict[str, float]:
    # Warm-up: connections, prepared statements, imports.
    warm = [
        (await api.post("/api/workflows", json=ten_task_dag("bench warm-up"))).json()["id"]
        for _ in range(3)
    ]
    await wait_all(api, db, warm, 60)

    result = (
        await wait_all(
            api,
            db,
            [(await api.post("/api/workflows", json=chain(chain_length))).json()["id"]],
            120,
        )
    )[0]
    tasks = result["tasks"]
    handoffs = [
        (at(b["started_at"]) - at(a["finished_at"])).total_seconds() * 1000
        for a, b in itertools.pairwise(tasks)
    ]
    steps = [  # what a user of a chain sees: one start to the next (the peers' figure)
        (at(b["started_at"]) - at(a["started_at"])).total_seconds() * 1000
        for a, b in itertools.pairwise(tasks)
    ]

    firsts = []
    for _ in range(singles):
        created = (await api.post("/api/workflows", json=ten_task_dag("bench single"))).json()
        workflow = (await wait_all(api, db, [created["id"]], 30))[0]
        root = workflow["tasks"][0]
        firsts.append((at(root["started_at"]) - at(workflow["created_at"])).total_seconds() * 1000)

    started = time.monotonic()
    ids = []

    async def submit(n: int) -> None:
        response = await api.post(
            "/api/workflows", json=ten_task_dag(f"bench dag {n}", labels={"bench": "throughput"})
        )
        response.raise_for_status()
        ids.append(response.json()["id"])

    await asyncio.gather(*(submit(n) for n in range(workflows)))
    submitted_in = time.monotonic() - started
    finished = await wait_all(api, db, ids, 600)
    first_submit = min(at(w["created_at"]) for w in finished)
    last_finish = max(at(w["finished_at"]) for w in finished)
    span = (last_finish - first_submit).total_seconds()
    ok = sum(w["status"] == "succeeded" for w in finished)

    say("")
    say(f"LAF benchmark (no-op tasks, one replica of each service, {_cores()} cores){title}")
    say(
        f"  step, start->start  p50 {statistics.median(steps):6.2f} ms   p99 {percentile(steps, 0.99):6.2f} ms   ({len(steps)} steps along a {chain_length}-task chain)"
    )
    say(
        f"  step hand-off       p50 {statistics.median(handoffs):6.2f} ms   p99 {percentile(handoffs, 0.99):6.2f} ms   (finish -> next start, the same chain)"
    )
    say(
        f"  submit -> 1st task  p50 {statistics.median(firsts):6.2f} ms   p99 {percentile(firsts, 0.99):6.2f} ms   ({singles} workflows, one at a time)"
    )
    say(
        f"  throughput          {workflows * 10 / span:7.0f} tasks/s   ({workflows} x 10-task workflows, {ok} succeeded, {span:.2f} s from first submit to last finish; submitting took {submitted_in:.2f} s)"
    )
    return {
        "step_p50": statistics.median(steps),
        "handoff_p50": statistics.median(handoffs),
        "first_p50": statistics.median(firsts),
        "throughput": workflows * 10 / span,
    }


async def chain_cost(database: str, rows: int = 20_000) -> None:
    """What the audit chain adds per history row: the same INSERT with the chaining
    trigger on and off, each in a transaction that is rolled back."""
    owner = await asyncpg.connect(infra.owner_url(database))
    insert = """INSERT INTO history (workflow_id, task_id, task_name, from_status, to_status, actor)
                SELECT $1, gen_random_uuid(), 't', 'pending', 'queued', 'bench'
                FROM generate_series(1, $2)"""
    took: dict[bool, list[float]] = {True: [], False: []}
    try:
        for _ in range(3):
            for chained in (True, False):
                transaction = owner.transaction()
                await transaction.start()
                if not chained:
                    await owner.execute("ALTER TABLE history DISABLE TRIGGER history_chained")
                began = time.perf_counter()
                await owner.execute(insert, uuid.uuid4(), rows)
                took[chained].append(time.perf_counter() - began)
                await transaction.rollback()
    finally:
        await owner.close()
    with_, without = min(took[True]) / rows * 1e6, min(took[False]) / rows * 1e6
    say(
        f"  audit chain         {with_ - without:6.1f} us per history row ({with_:.1f} with, "
        f"{without:.1f} without; {rows} rows); a step along a chain writes 3 rows"
    )


def _cores() -> int:
    return os.cpu_count() or 0


async def main_async(args: argparse.Namespace) -> None:
    template = await infra.create_template()
    modes = ["off", "on"] if args.tracing == "both" else [args.tracing]
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
    try:
        for round_ in range(args.rounds):  # alternating, so a change in the machine's load
            for mode in modes:  # weighs on both
                audit = round_ == 0 and mode == modes[0]  # the audit chain's cost, once
                if mode == "on":
                    with OtlpReceiver() as receiver:
                        results[mode].append(await run_once(args, template, receiver, audit))
                        say(f"  (spans received: {len(receiver.spans)})")
                else:
                    results[mode].append(await run_once(args, template, None, audit))
    finally:
        await infra.drop_database(template)
    if len(results) == 2:
        off = {k: statistics.median(r[k] for r in results["off"]) for k in results["off"][0]}
        on = {k: statistics.median(r[k] for r in results["on"]) for k in results["on"][0]}
        rounds = f"median of {args.rounds} round(s)" if args.rounds > 1 else "one round"
        say("")
        say(f"Cost of tracing (on - off; {rounds})")
        say(
            f"  step, start->start  {on['step_p50'] - off['step_p50']:+6.2f} ms   "
            f"({off['step_p50']:.2f} -> {on['step_p50']:.2f})"
        )
        say(
            f"  step hand-off p50   {on['handoff_p50'] - off['handoff_p50']:+6.2f} ms   "
            f"({off['handoff_p50']:.2f} -> {on['handoff_p50']:.2f})"
        )
        say(
            f"  submit -> 1st task  {on['first_p50'] - off['first_p50']:+6.2f} ms   "
            f"({off['first_p50']:.2f} -> {on['first_p50']:.2f})"
        )
        say(
            f"  throughput          {on['throughput'] - off['throughput']:+6.0f} tasks/s "
            f"({off['throughput']:.0f} -> {on['throughput']:.0f})"
        )


async def run_once(
    args: argparse.Namespace, template: str, receiver: OtlpReceiver | None, audit: bool
) -> dict[str, float]:
    log_dir = Path(tempfile.mkdtemp(prefix="laf-bench-"))
    settings = {"LAF_LOG_LEVEL": "WARNING", "LAF_RUNNER_CONCURRENCY": str(args.runner_concurrency)}
    if receiver is not None:
        settings["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint
    async with running_stack(template, log_dir, **settings) as stack:
        extra = [stack.start("runner", name=f"runner-{n}").name for n in range(1, args.runners)]
        await asyncio.to_thread(stack.wait_ready, 60, extra)
        limits = httpx.Limits(max_connections=32)
        async with httpx.AsyncClient(
            base_url=stack.api_url, timeout=60, limits=limits, headers=stack.auth_headers
        ) as api:
            db = await create_pool(infra.database_url(stack.database), max_size=2)
            try:
                title = "" if receiver is None else ", tracing on"
                if receiver is None and args.tracing == "both":
                    title = ", tracing off"
                result = await measure(api, db, args.chain, args.workflows, args.singles, title)
                if audit:
                    await chain_cost(stack.database)
                return result
            finally:
                await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--workflows", type=int, default=200, help="workflows of 10 tasks for the throughput run"
    )
    parser.add_argument(
        "--chain", type=int, default=200, help="length of the chain for hand-off latency"
    )
    parser.add_argument("--singles", type=int, default=50, help="workflows submitted one by one")
    parser.add_argument("--runners", type=int, default=1, help="runner processes")
    parser.add_argument("--runner-concurrency", type=int, default=32)
    parser.add_argument(
        "--tracing",
        choices=["both", "off", "on"],
        default="both",
        help="measure with tracing off, on (OTLP/HTTP to a receiver in this process), or both",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="with --tracing both: alternate off/on this often"
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
