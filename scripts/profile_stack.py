"""Profile every service with py-spy while chains run (a developer's tool, not a test).

    uv run python scripts/profile_stack.py [--chains 5] [--length 100] [--fanout 0]

Writes py-spy's collapsed stacks per service to the given folder and prints each
service's top frames by own time.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

import asyncpg
import httpx

from devstack import running_stack
from laf_core.testing import infra
from laf_core.testing.factories import chain, fan_out, ten_task_dag

FINAL = {"succeeded", "failed", "cancelled"}


async def wait(db: asyncpg.Connection, ids: list[str]) -> None:
    """Polls the database, not the API: the profile shows the work, not the watching."""
    query = "SELECT count(*) FROM workflows WHERE id = any($1::uuid[]) AND status <> all($2)"
    while await db.fetchval(query, ids, list(FINAL)):
        await asyncio.sleep(0.02)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_s(comm: str) -> float:
    """CPU seconds of every process named `comm` (postgres, beam.smp: RabbitMQ)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == comm:
                    total += cpu_s(int(entry.name))
            except OSError:
                pass
    return total


def top(path: Path, n: int = 25) -> None:
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        own[frames[-1]] += int(count)
        total += int(count)
    print(f"== {path.name}: {total} samples")
    for frame, count in own.most_common(n):
        print(f"  {100 * count / total:5.1f}%  {frame}")


async def pg_functions(db: asyncpg.Connection, n: int) -> None:
    """The SQL functions and triggers by their own time (needs track_functions = 'all')."""
    await db.execute("SELECT pg_stat_force_next_flush()")
    await asyncio.sleep(1)  # the services' backends flush their counts within a second
    rows = await db.fetch(
        "SELECT funcname, calls, total_time, self_time FROM pg_stat_user_functions "
        "ORDER BY self_time DESC LIMIT $1",
        n,
    )
    print("== PostgreSQL functions by own time (ms): self, total, calls")
    for row in rows:
        print(f"  {row['self_time']:9.0f} {row['total_time']:9.0f} {row['calls']:7}  {row['funcname']}")


async def main(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    template = await infra.create_template()
    try:
        async with running_stack(template, Path(tempfile.mkdtemp())) as stack:
            await asyncio.to_thread(stack.wait_ready, 60, [])
            async with httpx.AsyncClient(
                base_url=stack.api_url, timeout=120, headers=stack.auth_headers
            ) as api:
                db = await asyncpg.connect(infra.database_url(stack.database))
                warm = (await api.post("/api/workflows", json=chain(5))).json()["id"]
                await wait(db, [warm])
                pids = {name: p.popen.pid for name, p in stack.processes.items()}
                before = {name: cpu_s(pid) for name, pid in pids.items()}
                before["postgres"] = server_cpu_s("postgres")
                before["rabbitmq"] = server_cpu_s("beam.smp")
                started = time.monotonic()
                spies = {} if args.no_spy else {
                    name: subprocess.Popen(
                        ["uvx", "py-spy", "record", "-r", "400", "-f", "raw", "-o",
                         str(out / f"{name}.txt"), "-p", str(p.popen.pid)] + (["--idle"] if args.idle else ["--gil"]),
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    )
                    for name, p in stack.processes.items()
                }
                await asyncio.sleep(1)
                ids = []
                for _ in range(args.chains):
                    doc = chain(args.length)
                    ids.append((await api.post("/api/workflows", json=doc)).json()["id"])
                    await wait(db, ids[-1:])
                if args.wide:  # one workflow: root -> wide leaves -> join
                    began = time.monotonic()
                    wide = await api.post("/api/workflows", json=fan_out(args.wide))
                    await wait(db, [wide.json()["id"]])
                    print(f"wide: {args.wide + 2} tasks in {time.monotonic() - began:.1f} s")
                if args.fanout:
                    docs = [ten_task_dag(f"f{i}") for i in range(args.fanout)]
                    answers = await asyncio.gather(
                        *(api.post("/api/workflows", json=d) for d in docs)
                    )
                    for answer in answers:
                        answer.raise_for_status()
                    await wait(db, [r.json()["id"] for r in answers])
                wall = time.monotonic() - started
                if args.pg_functions:
                    await pg_functions(db, args.top)
                after = {name: cpu_s(pid) for name, pid in pids.items()}
                after["postgres"] = server_cpu_s("postgres")
                after["rabbitmq"] = server_cpu_s("beam.smp")
                steps = args.chains * args.length + args.fanout * 10 + (args.wide + 2 if args.wide else 0)
                print(f"{steps} tasks in {wall:.2f} s ({1000 * wall / steps:.2f} ms each)")
                for name in after:
                    used = after[name] - before[name]
                    print(f"  {name:20} CPU {1000 * used / steps:6.2f} ms per task")
                for spy in spies.values():
                    spy.send_signal(2)
                for spy in spies.values():
                    spy.wait(30)
    finally:
        await infra.drop_database(template)
    for name in sorted(spies):
        if (out / f"{name}.txt").exists():
            top(out / f"{name}.txt", args.top)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--chains", type=int, default=3)
    parser.add_argument("--length", type=int, default=100)
    parser.add_argument("--fanout", type=int, default=0)
    parser.add_argument("--wide", type=int, default=0, help="leaves of one root -> leaves -> join")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--idle", action="store_true")
    parser.add_argument("--no-spy", action="store_true", help="only the CPU per task")
    parser.add_argument(
        "--pg-functions",
        action="store_true",
        help="print pg_stat_user_functions (ALTER SYSTEM SET track_functions = 'all' first)",
    )
    parser.add_argument("--out", default="/tmp/prof")
    asyncio.run(main(parser.parse_args()))
