"""Forward-only migrations: migrations/NNNN_name.sql, each applied once, in order.

`laf-migrate` runs them and exits (a one-shot step, a Kubernetes Job in
production). Concurrent runs are serialised by an advisory lock.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import sys
from importlib import resources

import asyncpg

from laf_core.db.pool import connect

log = logging.getLogger(__name__)
_LOCK_KEY = 0x1AF0_0001


def available() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every migration shipped with the package, in order."""
    folder = resources.files("laf_core.db") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version, _, rest = entry.name.partition("_")
            found.append((int(version), rest.removesuffix(".sql"), entry.read_text()))
    return sorted(found)


class MigrationChanged(RuntimeError):
    """A migration file differs from the one applied: never edit an applied migration."""


def checksum(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()


async def apply(dsn: str) -> list[int]:
    """Apply the missing migrations; return the versions applied now. Refuses to run
    when an applied migration's file has changed since (add a new migration instead)."""
    conn = await connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
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
                if done[version] != checksum(sql):
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
    finally:
        await conn.close()


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
    dsn = CommonSettings(dev_mode=True).database_url  # only the URL is needed here
    setup_logging("migrate")
    try:
        if args.create:
            asyncio.run(create_database(dsn))
        applied = asyncio.run(apply(dsn))
    except (OSError, asyncpg.PostgresError, MigrationChanged) as exc:
        log.error("migration failed: %s", exc)
        sys.exit(1)
    log.info("database is at the latest schema (%d applied now)", len(applied))
