"""Faults the suite inflicts on the real servers, each returning only once it saw the fault
strike: the process gone, the broker's node down, the database refusing connections.

The servers are found from the settings the tests already use: RabbitMQ is driven with
`rabbitmqctl` and started again the way scripts/ensure-services.sh starts it; PostgreSQL's
cluster is the one the test database lives in (`SHOW data_directory`), stopped in immediate
mode (crash recovery on the way back) with the `pg_ctl` beside its running server and started
with the options it was started with (postmaster.opts).
"""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import shlex
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from laf_core.testing import infra


def rabbitmqctl(*args: str, timeout: float = 120) -> str:
    return subprocess.run(
        ["rabbitmqctl", "-q", *args], check=True, capture_output=True, text=True, timeout=timeout
    ).stdout


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _amqp_address(amqp_url: str) -> tuple[str, int]:
    parts = urlsplit(amqp_url)
    return parts.hostname or "127.0.0.1", parts.port or 5672


def stop_and_start_rabbitmq_node(amqp_url: str) -> bool:
    """Stop the RabbitMQ node itself (not only its app), see its port refuse connections,
    start it again as scripts/ensure-services.sh does. True when the node was seen down."""
    host, port = _amqp_address(amqp_url)
    rabbitmqctl("stop", timeout=180)
    deadline = time.monotonic() + 60
    down = False
    while time.monotonic() < deadline:
        if not _port_open(host, port):
            down = True
            break
        time.sleep(0.1)
    subprocess.run(
        ["rabbitmq-server", "-detached"],
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            rabbitmqctl("await_startup", "--timeout", "10", timeout=30)
            break
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    return down


def _connections(vhost: str) -> set[str]:
    """The connections open on `vhost` (list_connections lists the whole node's)."""
    out = rabbitmqctl("list_connections", "--no-table-headers", "pid", "vhost")
    return {
        pid for pid, _, on in (line.partition("\t") for line in out.splitlines()) if on == vhost
    }


def close_vhost_connections(vhost: str) -> int:
    """Cut every broker connection of `vhost` (the network-level fault); returns how many
    RabbitMQ closed, once it no longer lists them."""
    before = _connections(vhost)
    if not before:
        return 0
    said = rabbitmqctl("close_all_connections", "--vhost", vhost, "fault injection")
    closed = int(match.group(1)) if (match := re.search(r"Closed (\d+)", said)) else 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        gone = before - _connections(vhost)
        if gone == before:
            return closed
        time.sleep(0.2)
    return 0


class PostgresCluster:
    """The cluster the tests' database lives in, found from the server itself."""

    def __init__(self, data_directory: Path) -> None:
        self.data_directory = data_directory
        owner = pwd.getpwuid(data_directory.stat().st_uid)
        self.owner = owner.pw_name
        self.owner_uid = owner.pw_uid
        self.pid_file = data_directory / "postmaster.pid"

    @classmethod
    async def of_tests(cls) -> PostgresCluster:
        conn = await asyncpg.connect(infra.owner_url("postgres"))
        try:
            return cls(Path(await conn.fetchval("SHOW data_directory")))
        finally:
            await conn.close()

    def _as_owner(self, argv: list[str]) -> list[str]:
        if os.geteuid() == self.owner_uid:
            return argv
        return ["runuser", "-u", self.owner, "--", *argv]

    def _pg_ctl(self) -> str:
        pid = int(self.pid_file.read_text().split()[0])
        return str(Path(os.readlink(f"/proc/{pid}/exe")).parent / "pg_ctl")

    async def crash_restart(self) -> bool:
        """Stop in immediate mode, see connections refused, start again (crash recovery).
        True when the database was seen refusing connections."""
        pg_ctl = self._pg_ctl()
        opts = shlex.split((self.data_directory / "postmaster.opts").read_text())
        server_args = opts[1:]
        if "-D" in server_args:  # given to pg_ctl itself
            i = server_args.index("-D")
            del server_args[i : i + 2]
        await asyncio.to_thread(
            subprocess.run,
            self._as_owner([pg_ctl, "stop", "-D", str(self.data_directory), "-m", "immediate"]),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )
        refused = False
        try:
            conn = await asyncpg.connect(infra.owner_url("postgres"), timeout=2)
            await conn.close()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            refused = True
        fd, log_name = tempfile.mkstemp(prefix="laf-faults-postgres-", suffix=".log")
        os.close(fd)
        os.chown(log_name, self.owner_uid, -1)
        await asyncio.to_thread(
            subprocess.run,
            self._as_owner(
                [
                    pg_ctl,
                    "start",
                    "-D",
                    str(self.data_directory),
                    "-o",
                    shlex.join(server_args),
                    "-l",
                    log_name,
                    "-w",
                    "-t",
                    "120",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=150,
        )
        return refused


async def terminate_connections(database: str) -> bool:
    """The gentler PostgreSQL fault (LAF_FAULTS_POSTGRES=terminate): only this database's
    connections are cut. True when at least one was."""
    conn = await asyncpg.connect(infra.owner_url("postgres"))
    try:
        cut = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await conn.close()
    return any(r[0] for r in cut)
