"""laf-migrate: forward-only, idempotent, and it refuses an edited migration."""

import asyncpg
import pytest

from laf_core.db import migrate


async def test_migrating_twice_applies_nothing_new(database_url):
    assert await migrate.apply(database_url) == []  # the template was migrated already
    versions = [v for v, _, _ in migrate.available()]
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT version, checksum FROM schema_migrations ORDER BY version")
    finally:
        await conn.close()
    assert [r["version"] for r in rows] == versions
    assert all(len(r["checksum"]) == 64 for r in rows)


async def test_an_applied_migration_that_changed_is_refused(database_url):
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
    finally:
        await conn.close()
    with pytest.raises(migrate.MigrationChanged, match="0001_init differs"):
        await migrate.apply(database_url)
