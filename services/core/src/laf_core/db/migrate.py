"""The database's schema and code, brought up to date.

The schema (tables, indexes, constraints) is forward-only: migrations/NNNN_name.sql,
each applied once, in order, and never edited once applied. The code (trigger
functions, transitions, operator actions, reconciler queries) is functions/*.sql,
written with CREATE OR REPLACE and re-applied whenever a file's content changes,
after the migrations, like Flyway's repeatable migrations: a changed function is a
diff of that function. A function or trigger no longer in those files is dropped.
Changing a function's arguments or return type needs a `DROP FUNCTION IF EXISTS`
in a new migration (CREATE OR REPLACE cannot change them).

Migrations run as the tables' owner. The services connect as another role
(LAF_DATABASE_SERVICE_ROLE, default `laf_service`; created here, with LOGIN, when missing
and allowed): it may read and write the tables but never change or delete a row of the
audit record (history, checkpoints, signatures, stored data), nor touch the
migration bookkeeping. The append-only trigger on history stays as a second wall.

`laf-migrate` runs both and exits (a one-shot step, a Kubernetes Job in
production). Concurrent runs are serialised by an advisory lock; each migration,
and the code as a whole, is applied in one transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import sys
from importlib import resources
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from laf_core.db.pool import Connection, connect

log = logging.getLogger(__name__)
_LOCK_KEY = 0x1AF0_0001
SERVICE_ROLE = "laf_service"
_APPEND_ONLY = ("history", "audit_checkpoints", "signatures", "blobs")
_OWNER_ONLY = ("schema_migrations", "schema_code")

# 0001 as released before its functions moved to functions/: the same tables, so a
# database that applied it is at version 1 too (its functions are replaced below).
_ALSO_ACCEPTED = {1: "bc73f817219cce3b29293a8f4644e679adf0f82e1c3977ee1332590e16922622"}

# What the code files own but did not (re)define in this transaction: every trigger
# on LAF's tables, and functions named laf_*, in schema public. Triggers go first,
# since they depend on their functions.
_STALE_CODE = """
    SELECT drop FROM (
        SELECT 1 AS pass, format('DROP TRIGGER %I ON %s', t.tgname, t.tgrelid::regclass) AS drop
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
          AND NOT t.xmin = pg_current_xact_id()::xid
        UNION ALL
        SELECT 2, 'DROP FUNCTION ' || p.oid::regprocedure::text
        FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'laf\\_%'
          AND NOT p.xmin = pg_current_xact_id()::xid
    ) stale ORDER BY pass, drop
"""


def available() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every migration shipped with the package, in order."""
    folder = resources.files("laf_core.db") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version, _, rest = entry.name.partition("_")
            found.append((int(version), rest.removesuffix(".sql"), entry.read_text()))
    return sorted(found)


def code() -> list[tuple[str, str]]:
    """(file name, sql) for every code file shipped with the package, in name order
    (triggers.sql sorts last, after the functions it names)."""
    folder = resources.files("laf_core.db") / "functions"
    return sorted((e.name, e.read_text()) for e in folder.iterdir() if e.name.endswith(".sql"))


class MigrationChanged(RuntimeError):
    """A migration file differs from the one applied: never edit an applied migration."""


def checksum(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()


async def apply(dsn: str, service_role: str = SERVICE_ROLE) -> list[int]:
    """Apply the missing migrations, then the code if it changed; return the versions
    applied now. Refuses to run when an applied migration's file has changed since
    (add a new migration instead)."""
    conn = await connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        applied = await _apply_migrations(conn)
        await _apply_code(conn)
        await _grant_service_role(conn, service_role)
        return applied
    finally:
        await conn.close()


async def _apply_migrations(conn: Connection) -> list[int]:
    await conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version int PRIMARY KEY, name text NOT NULL, checksum text,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )
    await conn.execute("ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text")
    done = {
        r["version"]: r["checksum"]
        for r in await conn.fetch("SELECT version, checksum FROM schema_migrations")
    }
    applied = []
    for version, name, sql in available():
        if version in done:
            if done[version] not in (checksum(sql), _ALSO_ACCEPTED.get(version)):
                raise MigrationChanged(
                    f"migration {version:04d}_{name} differs from the one applied to this "
                    "database; recreate a development database, or ship the change as a "
                    "new migration"
                )
            continue
        async with conn.transaction():
            await conn.execute(sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                version,
                name,
                checksum(sql),
            )
        log.info("applied migration %04d_%s", version, name)
        applied.append(version)
    return applied


async def _apply_code(conn: Connection) -> None:
    """Re-apply every code file when any of them changed, was added or removed, and
    drop what they no longer define, all in one transaction."""
    await conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_code (
               file text PRIMARY KEY, checksum text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )
    files = code()
    wanted = {name: checksum(sql) for name, sql in files}
    recorded = {r["file"]: r["checksum"] for r in await conn.fetch("SELECT * FROM schema_code")}
    if wanted == recorded:
        return
    async with conn.transaction():
        # Bodies refer to each other; check them when called, as pg_dump's output does.
        await conn.execute("SET LOCAL check_function_bodies = off")
        for _, sql in files:
            await conn.execute(sql)
        for (drop,) in await conn.fetch(_STALE_CODE):
            log.info("dropped what the code no longer defines: %s", drop)
            await conn.execute(drop)
        await conn.execute("DELETE FROM schema_code")
        await conn.executemany(
            "INSERT INTO schema_code (file, checksum) VALUES ($1, $2)", wanted.items()
        )
    changed = sorted(n for n in wanted.keys() | recorded.keys() if wanted.get(n) != recorded.get(n))
    log.info("applied the database code (changed: %s)", ", ".join(changed))


async def _grant_service_role(conn: Connection, role: str) -> None:
    """What the services' role may do, granted afresh on every run (new tables too)."""
    if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
        try:
            await conn.execute(f"CREATE ROLE {await _ident(conn, role)} LOGIN")
        except asyncpg.DuplicateObjectError:
            pass  # another database's migration made it meanwhile (roles are cluster-wide)
        except asyncpg.InsufficientPrivilegeError:
            raise MigrationChanged(
                f"the services' database role '{role}' does not exist and this user may not "
                "create it: create it (LOGIN), or set LAF_DATABASE_SERVICE_ROLE"
            ) from None
    who = await _ident(conn, role)
    async with conn.transaction():
        await conn.execute(
            f"""GRANT CONNECT ON DATABASE {await _ident(conn, await conn.fetchval("SELECT current_database()"))} TO {who};
                GRANT USAGE ON SCHEMA public TO {who};
                GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {who};
                GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {who};
                REVOKE UPDATE, DELETE, TRUNCATE ON {", ".join(_APPEND_ONLY)} FROM {who};
                REVOKE ALL ON {", ".join(_OWNER_ONLY)} FROM {who};"""
        )


def service_dsn(owner_dsn: str, role: str = SERVICE_ROLE) -> str:
    """The owner's URL with the services' role as its user (no password: for local
    trust or peer authentication; production passes the services' own URL)."""
    parts = urlsplit(owner_dsn)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{role}@{host}"))


async def _ident(conn: Connection, name: str) -> str:
    return str(await conn.fetchval("SELECT format('%I', $1::text)", name))


async def create_database(dsn: str) -> None:
    """Create the database named in `dsn` if it does not exist (dev and tests)."""
    base, _, name = dsn.rpartition("/")
    name = name.split("?")[0]
    try:
        conn = await asyncpg.connect(dsn)
    except asyncpg.InvalidCatalogNameError:
        admin = await asyncpg.connect(base + "/postgres")
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.DuplicateDatabaseError:
            pass
        finally:
            await admin.close()
    else:
        await conn.close()


def main() -> None:
    from laf_core.logs import setup_logging
    from laf_core.settings import CommonSettings

    parser = argparse.ArgumentParser(prog="laf-migrate", description=__doc__)
    parser.add_argument("--create", action="store_true", help="create the database if missing")
    args = parser.parse_args()
    settings = CommonSettings()  # only the URL and the services' role are needed here
    dsn = settings.database_url
    setup_logging("migrate")
    try:
        if args.create:
            asyncio.run(create_database(dsn))
        applied = asyncio.run(apply(dsn, settings.database_service_role))
    except (OSError, asyncpg.PostgresError, MigrationChanged) as exc:
        log.error("migration failed: %s", exc)
        sys.exit(1)
    log.info("database is at the latest schema (%d applied now)", len(applied))
