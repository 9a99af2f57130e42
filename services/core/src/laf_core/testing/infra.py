"""Throw-away databases and RabbitMQ vhosts on the local servers.

Each test gets its own database cloned from a migrated template (fast: ~70 ms),
so tests never share rows; a test session gets its own vhost, so queues of
one run never see messages of another.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import asyncpg

from laf_core.credentials import digest
from laf_core.db.migrate import apply, service_dsn
from laf_core.policy import TaskPolicy
from laf_core.topology import DEAD_LETTER_QUEUE

PG_SERVER = os.environ.get("LAF_TEST_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")
AMQP_SERVER = os.environ.get("LAF_TEST_AMQP_SERVER", "amqp://guest:guest@127.0.0.1:5672")
TEST_SECRET = "laf-test-secret-of-at-least-32-bytes!"
# Every test database (cloned from the template) knows these accounts and tokens:
# `tester` (admin; every person's role) and `runner` (a runner service account).
TEST_ADMIN_TOKEN = "laf_test-admin-token-0000000000000000000000000"
TEST_RUNNER_TOKEN = "laf_test-runner-token-000000000000000000000000"
# What the tests' tasks run: the allow-lists of every test stack and in-process API.
TEST_POLICY = {
    "LAF_TASK_PYTHON_MODULES": "laf_runner.library,tests",
    "LAF_TASK_LOCAL_PROGRAMS": f"sh,false,{sys.executable}",
    "LAF_TASK_IMAGE_PREFIXES": "registry.example/",
    "LAF_INSTRUMENT_ENDPOINTS": "http://127.0.0.1:*",
}
TEST_TOKENS = {"tester": (TEST_ADMIN_TOKEN, ["admin"]), "runner": (TEST_RUNNER_TOKEN, ["runner"])}


def policy_for_tests() -> TaskPolicy:
    return TaskPolicy.model_validate(
        {k.removeprefix("LAF_").lower(): v for k, v in TEST_POLICY.items()}
    )


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_SERVER + "/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_empty_database(prefix: str = "laf_e") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    return name


async def create_template() -> str:
    name = await create_empty_database("laf_tpl")
    await apply(f"{PG_SERVER}/{name}")
    conn = await asyncpg.connect(f"{PG_SERVER}/{name}")
    try:
        for user, (token, roles) in TEST_TOKENS.items():
            await grant(conn, user, roles, token)
    finally:
        await conn.close()
    return name


async def grant(conn: asyncpg.Connection, user: str, roles: list[str], token: str) -> None:
    """A password-less account `user` holding `roles`, and an API token for it."""
    await conn.execute(
        "INSERT INTO users (name, roles, created_by) VALUES ($1, $2, 'tests') "
        "ON CONFLICT (name) DO NOTHING",
        user,
        roles,
    )
    await conn.execute(
        "INSERT INTO tokens (id, digest, kind, name, owner, roles) VALUES ($1, $2, 'api', $3, $4, $5)",
        uuid.uuid4(),
        digest(token),
        f"{user} (tests)",
        user,
        roles,
    )


async def create_database(template: str) -> str:
    name = f"laf_t_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name


async def drop_database(name: str) -> None:
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url(name: str) -> str:
    """What services and tests connect as: the services' role, which may not change
    or delete the audit record."""
    return service_dsn(owner_url(name))


def owner_url(name: str) -> str:
    """The tables' owner (a superuser here): migrations, and tests that tamper."""
    return f"{PG_SERVER}/{name}"


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def create_vhost() -> tuple[str, str]:
    """A fresh vhost; returns (name, amqp URL)."""
    name = f"laf-test-{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", name)
    _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    return name, f"{AMQP_SERVER}/{name}"


def delete_vhost(name: str) -> None:
    _rabbitmqctl("delete_vhost", name)


def queue_backlog(vhost: str) -> dict[str, tuple[int, int]]:
    """(ready, unacknowledged) messages of each of LAF's durable work queues in `vhost`
    (the dead letters are left out: holding messages is their job)."""
    out = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "messages_ready",
         "messages_unacknowledged"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    backlog = {}
    for line in out.splitlines():
        name, ready, unacked = line.split("\t")
        if name.startswith("laf.") and name != DEAD_LETTER_QUEUE:
            backlog[name] = (int(ready), int(unacked))
    return backlog
