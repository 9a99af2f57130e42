"""`make bench`: LAF's speed on this machine, measured on the real stack.

Starts the four services as processes on a throw-away database and vhost,
then measures with no-op tasks the three scenarios of the peer harness
(../shared/bench-peers: Celery, Procrastinate), as it measures them:
  - chain100: one 100-task chain, start -> next start (p50 / p99), and
    finish -> next start;
  - submit: one-task workflows one at a time, 0.1 s apart, from the client's
    submit call to the task's start (p50 / min / max);
  - fanout: 200 workflows of 10 sequential tasks submitted at once, tasks per
    second from the first submit call to the last finish;
and then one workflow root -> 10,000 leaves -> join (the submit's answer, its
cost per task against the fanout's, the GET of it), each service's memory
(RSS) idle and after, and the audit chain's cost per history row (the same
INSERT with and without its chaining trigger).
Task times come from PostgreSQL (clock_timestamp() in the transitions), the
submit calls from this process's clock: the same host's. The services run with
`make run`'s settings (log level, runner concurrency) unless told otherwise.

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
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

from devstack import Stack, running_stack
from laf_core.db.pool import create_pool
from laf_core.testing import infra
from laf_core.testing.factories import chain, fan_out, task, ten_task_dag, workflow
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


# The legs of submit -> task start, from the client's call and the database's times.
SUBMIT_LEGS = ("call -> workflow row", "-> workflow started", "-> task queued", "-> task claimed")


def single(name: str) -> dict:
    return workflow(task("only"), name=name)


def now() -> datetime:
    """The client's clock: the same host's clock as PostgreSQL's clock_timestamp()."""
    return datetime.now(UTC)


async def submit(api: httpx.AsyncClient, document: dict) -> str:
    response = await api.post("/api/workflows", json=document)
    response.raise_for_status()
    return str(response.json()["id"])


async def measure(
    api: httpx.AsyncClient,
    db: asyncpg.Pool,
    args: argparse.Namespace,
    title: str = "",
    rss: Callable[[], dict[str, float]] | None = None,
) -> dict[str, float]:
    """The peer harness's three scenarios (../shared/bench-peers: chain100, fanout,
    submit), measured as it measures them: from the client's submit call, with the
    database's times of each task's start and finish; then the large fan-out."""
    idle = rss() if rss else {}
    # Warm-up: connections, prepared statements, imports.
    await wait_all(
        api, db, [await submit(api, ten_task_dag("bench warm-up")) for _ in range(3)], 60
    )

    submitted = now()
    result = (await wait_all(api, db, [await submit(api, chain(args.chain))], 300))[0]
    tasks = result["tasks"]
    handoffs = [
        (at(b["started_at"]) - at(a["finished_at"])).total_seconds() * 1000
        for a, b in itertools.pairwise(tasks)
    ]
    steps = [  # what a user of a chain sees: one start to the next (the peers' figure)
        (at(b["started_at"]) - at(a["started_at"])).total_seconds() * 1000
        for a, b in itertools.pairwise(tasks)
    ]
    chain_first = (at(tasks[0]["started_at"]) - submitted).total_seconds() * 1000

    firsts = []
    legs: dict[str, list[float]] = {leg: [] for leg in SUBMIT_LEGS}
    for n in range(args.singles):  # one at a time, 0.1 s apart, as the peers
        called = now()
        done = await wait_all(api, db, [await submit(api, single(f"bench single {n}"))], 30)
        only = done[0]["tasks"][0]
        times = (
            done[0]["created_at"],
            done[0]["started_at"],
            only["queued_at"],
            only["started_at"],
        )
        moments = [called, *(at(t) for t in times)]
        firsts.append((moments[-1] - called).total_seconds() * 1000)
        for leg, (a, b) in zip(SUBMIT_LEGS, itertools.pairwise(moments), strict=True):
            legs[leg].append((b - a).total_seconds() * 1000)
        await asyncio.sleep(0.1)

    first_call = now()
    ids = await asyncio.gather(
        *(
            submit(api, chain(10) | {"name": f"bench fanout {n}", "labels": {"bench": "fanout"}})
            for n in range(args.workflows)
        )
    )
    submitted_in = (now() - first_call).total_seconds()
    finished = await wait_all(api, db, list(ids), 900)
    span = (max(at(w["finished_at"]) for w in finished) - first_call).total_seconds()
    ok = sum(w["status"] == "succeeded" for w in finished)
    throughput = args.workflows * 10 / span

    say("")
    say(f"LAF benchmark (no-op tasks, one replica of each service, {_cores()} cores{title})")
    say(f"  machine load average before: {os.getloadavg()[0]:.2f}")
    say(
        f"  chain100 step, start->start  p50 {statistics.median(steps):6.2f} ms   p99 {percentile(steps, 0.99):6.2f} ms   ({len(steps)} steps along a {args.chain}-task chain; {chain_first:.1f} ms submit -> first start)"
    )
    say(
        f"  chain100 hand-off            p50 {statistics.median(handoffs):6.2f} ms   p99 {percentile(handoffs, 0.99):6.2f} ms   (finish -> next start, the same chain)"
    )
    say(
        f"  submit -> task start         p50 {statistics.median(firsts):6.2f} ms   min {min(firsts):6.2f} ms   max {max(firsts):6.2f} ms   ({args.singles} one-task workflows, one at a time)"
    )
    where = ", ".join(f"{leg} {statistics.median(v):.2f}" for leg, v in legs.items())
    say(f"    where it goes, p50 ms: {where}")
    say(
        f"  fanout throughput            {throughput:7.0f} tasks/s   ({args.workflows} x 10-task chains at once, {ok} succeeded, {span:.2f} s from first submit call to last finish; submitting took {submitted_in:.2f} s)"
    )
    figures = {
        "step_p50": statistics.median(steps),
        "step_p99": percentile(steps, 0.99),
        "handoff_p50": statistics.median(handoffs),
        "first_p50": statistics.median(firsts),
        "throughput": throughput,
    }
    if args.large:
        figures |= await large_fan_out(api, db, args.large, per_task_small=1 / throughput)
    if rss:
        after = rss()
        say(
            "  memory, RSS idle -> after   "
            + ", ".join(f"{name} {idle[name]:.0f} -> {after[name]:.0f} MB" for name in after)
        )
        figures["rss_max_idle"] = max(idle.values())
        figures["rss_max_after"] = max(after.values())
    return figures


async def large_fan_out(
    api: httpx.AsyncClient, db: asyncpg.Pool, size: int, per_task_small: float
) -> dict[str, float]:
    """One workflow of `size` tasks, root -> size - 2 leaves -> join (10,000 tasks is the
    most a workflow may have): the submit's answer, the cost per task against the 10-task
    workflows', and reading it back whole."""
    width = size - 2
    document = fan_out(width)
    called = time.perf_counter()
    started = now()
    workflow_id = await submit(api, document)
    answered = time.perf_counter() - called
    finished = (await wait_all(api, db, [workflow_id], 1800))[0]
    per_task = (at(finished["finished_at"]) - started).total_seconds() / size
    reads = []
    for _ in range(3):
        began = time.perf_counter()
        response = await api.get(f"/api/workflows/{workflow_id}")
        response.raise_for_status()
        reads.append(time.perf_counter() - began)
    say(
        f"  fan-out 1 -> {width} -> 1   submit answered in {answered * 1000:.0f} ms; {per_task * 1000:.2f} ms per task "
        f"({per_task / per_task_small:.2f} x the 10-task chains' {per_task_small * 1000:.2f}); "
        f"GET of it p50 {statistics.median(reads) * 1000:.0f} ms ({len(response.content) / 1e6:.1f} MB, {finished['status']})"
    )
    return {
        "large_submit_ms": answered * 1000,
        "large_per_task_ratio": per_task / per_task_small,
        "large_get_ms": statistics.median(reads) * 1000,
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


FIGURES = {  # what the summary prints, and how
    "step_p50": ("chain100 step p50", "ms"),
    "step_p99": ("chain100 step p99", "ms"),
    "handoff_p50": ("chain100 hand-off p50", "ms"),
    "first_p50": ("submit -> task start p50", "ms"),
    "throughput": ("fanout throughput", "tasks/s"),
    "large_submit_ms": ("large fan-out submit answered", "ms"),
    "large_per_task_ratio": ("large fan-out cost per task", "x 10-task"),
    "large_get_ms": ("large fan-out GET", "ms"),
    "rss_max_idle": ("largest service RSS idle", "MB"),
    "rss_max_after": ("largest service RSS after", "MB"),
}


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


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
    summary = {mode: medians(runs) for mode, runs in results.items()}
    if args.rounds > 1:
        say("")
        say(f"Medians of {args.rounds} rounds (tracing {' / '.join(modes)})")
        for key, (label, unit) in FIGURES.items():
            if key in summary[modes[0]]:
                values = " / ".join(f"{summary[m][key]:.2f}" for m in modes)
                say(f"  {label:32} {values} {unit}")
    if len(modes) == 2:
        off, on = summary["off"], summary["on"]
        say("")
        rounds = f"median of {args.rounds} rounds" if args.rounds > 1 else "one round"
        say(f"Cost of tracing (on - off; {rounds})")
        for key in ("step_p50", "handoff_p50", "first_p50", "throughput"):
            label, unit = FIGURES[key]
            say(
                f"  {label:32} {on[key] - off[key]:+7.2f} {unit}   ({off[key]:.2f} -> {on[key]:.2f})"
            )


def service_rss(stack: Stack) -> dict[str, float]:
    """Each service's resident memory (MB), from /proc."""
    sizes = {}
    for name, process in stack.processes.items():
        status = Path(f"/proc/{process.popen.pid}/status").read_text()
        kilobytes = next(
            line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")
        )
        sizes[name] = int(kilobytes) / 1024
    return sizes


async def run_once(
    args: argparse.Namespace, template: str, receiver: OtlpReceiver | None, audit: bool
) -> dict[str, float]:
    log_dir = Path(tempfile.mkdtemp(prefix="laf-bench-"))
    # `make run`'s settings (its log level, the runner's concurrency) unless told otherwise:
    # the figures must hold for what users run.
    settings = {}
    if args.log_level:
        settings["LAF_LOG_LEVEL"] = args.log_level
    if args.runner_concurrency:
        settings["LAF_RUNNER_CONCURRENCY"] = str(args.runner_concurrency)
    if receiver is not None:
        settings["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint
    async with running_stack(template, log_dir, **settings) as stack:
        extra = [stack.start("runner", name=f"runner-{n}").name for n in range(1, args.runners)]
        await asyncio.to_thread(stack.wait_ready, 60, extra)
        limits = httpx.Limits(max_connections=32)
        async with httpx.AsyncClient(
            base_url=stack.api_url, timeout=120, limits=limits, headers=stack.auth_headers
        ) as api:
            db = await create_pool(infra.database_url(stack.database), max_size=2)
            try:
                title = "" if receiver is None else ", tracing on"
                if receiver is None and args.tracing == "both":
                    title = ", tracing off"
                result = await measure(api, db, args, title, lambda: service_rss(stack))
                if audit:
                    await chain_cost(stack.database)
                say(f"  (service logs in {log_dir})")
                return result
            finally:
                await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--workflows", type=int, default=200, help="fanout: 10-task chains submitted at once"
    )
    parser.add_argument("--chain", type=int, default=100, help="chain100: the chain's length")
    parser.add_argument(
        "--singles", type=int, default=20, help="submit: one-task workflows, one at a time"
    )
    parser.add_argument(
        "--large", type=int, default=10_000, help="the large fan-out's tasks (0: skip it)"
    )
    parser.add_argument("--runners", type=int, default=1, help="runner processes")
    parser.add_argument(
        "--runner-concurrency", type=int, default=0, help="default: the runner's (as make run)"
    )
    parser.add_argument("--log-level", default="", help="default: the services' (as make run)")
    parser.add_argument(
        "--tracing",
        choices=["both", "off", "on"],
        default="both",
        help="measure with tracing off, on (OTLP/HTTP to a receiver in this process), or both",
    )
    parser.add_argument("--rounds", type=int, default=1, help="measure this often; medians")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: small sizes, tracing on, one round"
    )
    args = parser.parse_args()
    if args.quick:
        args.workflows, args.chain, args.singles, args.large = 10, 10, 3, 50
        args.tracing, args.rounds = "on", 1
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
