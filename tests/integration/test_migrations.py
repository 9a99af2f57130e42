"""laf-migrate: forward-only schema migrations, repeatable code, and the databases
made before the code left 0001 migrating forward without loss."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from laf_core.contracts.workflow import WorkflowSpec
from laf_core.dag import dependents_of
from laf_core.db import migrate
from laf_core.db.pool import create_pool
from laf_core.db.queries import Q
from laf_core.testing import infra
from laf_core.testing.factories import diamond

# 0001_init.sql as released before the split: tables and all the functions in one file.
LEGACY_0001 = Path(__file__).with_name("fixtures") / "0001_init_before_split.sql"

CATALOG = {
    "columns": """SELECT table_name, ordinal_position, column_name, data_type, is_nullable,
                         column_default
                  FROM information_schema.columns WHERE table_schema = 'public'
                  ORDER BY 1, 2""",
    "constraints": """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
                      FROM pg_constraint WHERE connamespace = 'public'::regnamespace
                      ORDER BY 1, 2""",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes "
    "WHERE schemaname = 'public' ORDER BY 1, 2",
    "functions": """SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid)
                    FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace ORDER BY 1""",
    "triggers": """SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid)
                   FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2""",
}


async def catalog(url: str) -> dict[str, list[tuple]]:
    conn = await asyncpg.connect(url)
    try:
        return {part: [tuple(r) for r in await conn.fetch(sql)] for part, sql in CATALOG.items()}
    finally:
        await conn.close()


@pytest.fixture
async def legacy_url() -> AsyncIterator[str]:
    """A database as the release before the split left it: the old 0001, recorded."""
    name = await infra.create_empty_database()
    url = infra.owner_url(name)
    sql = LEGACY_0001.read_text()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
        await conn.execute(
            """CREATE TABLE schema_migrations (version int PRIMARY KEY, name text NOT NULL,
                   checksum text, applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        await conn.execute(
            "INSERT INTO schema_migrations VALUES (1, 'init', $1)", migrate.checksum(sql)
        )
    finally:
        await conn.close()
    yield url
    await infra.drop_database(name)


async def test_migrating_twice_applies_nothing_new(owner_database_url):
    conn = await asyncpg.connect(owner_database_url)
    try:
        xmins_before = await conn.fetch("SELECT oid, xmin::text FROM pg_proc ORDER BY oid")
        assert await migrate.apply(owner_database_url) == []  # the template was migrated already
        xmins_after = await conn.fetch("SELECT oid, xmin::text FROM pg_proc ORDER BY oid")
        rows = await conn.fetch("SELECT version, checksum FROM schema_migrations ORDER BY version")
        code = await conn.fetch("SELECT file, checksum FROM schema_code ORDER BY file")
    finally:
        await conn.close()
    assert [r["version"] for r in rows] == [v for v, _, _ in migrate.available()]
    assert all(len(r["checksum"]) == 64 for r in rows)
    assert [(r["file"], r["checksum"]) for r in code] == [
        (name, migrate.checksum(sql)) for name, sql in migrate.code()
    ]
    assert xmins_after == xmins_before  # unchanged code is not applied again


async def test_an_applied_migration_that_changed_is_refused(owner_database_url):
    conn = await asyncpg.connect(owner_database_url)
    try:
        await conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
    finally:
        await conn.close()
    with pytest.raises(migrate.MigrationChanged, match="0001_init differs"):
        await migrate.apply(owner_database_url)


async def test_a_database_built_from_scratch_equals_one_migrated_from_the_old_0001(
    owner_database_url, legacy_url
):
    before = await catalog(legacy_url)
    later = [version for version, _, _ in migrate.available() if version > 1]
    assert await migrate.apply(legacy_url) == later  # version 1 is the old 0001 too
    migrated, fresh = await catalog(legacy_url), await catalog(owner_database_url)
    assert migrated == fresh
    # The comparison sees the code: the old database had the old task-event writer.
    assert before["functions"] != fresh["functions"]
    assert "laf_emit_task_events(uuid[],jsonb)" in dict(fresh["functions"])


# How the API stored a workflow's tasks then (before laf_submit_workflow).
OLD_INSERT_TASKS = """
INSERT INTO tasks (id, workflow_id, position, name, executor, instrument, params, depends_on,
                   dependents, deps_pending, max_attempts, backoff_s, max_backoff_s, timeout_s)
SELECT t.id, $1, t.position, t.name, t.executor, t.instrument, coalesce(t.params, '{}'),
       ARRAY(SELECT jsonb_array_elements_text(t.depends_on)),
       ARRAY(SELECT jsonb_array_elements_text(t.dependents))::uuid[],
       jsonb_array_length(t.depends_on), t.max_attempts, t.backoff_s, t.max_backoff_s, t.timeout_s
FROM jsonb_to_recordset($2::jsonb) AS t(id uuid, position int, name text, executor text,
     instrument text, params jsonb, depends_on jsonb, dependents jsonb, max_attempts int,
     backoff_s float8, max_backoff_s float8, timeout_s float8)"""


async def submit_the_old_way(conn, spec: WorkflowSpec) -> uuid.UUID:
    """A workflow as the release of the old 0001 stored it (before later columns)."""
    wf, ids = uuid.uuid4(), {t.name: uuid.uuid4() for t in spec.tasks}
    waiting = dependents_of({t.name: t.depends_on for t in spec.tasks})
    async with conn.transaction():
        await conn.execute(Q.set_context, "user:test", "submitted")
        await conn.execute(
            "INSERT INTO workflows (id, name, document, document_sha256, tasks_total,"
            " tasks_unfinished, created_by) VALUES ($1, $2, $3, '', $4, $4, 'user:test')",
            wf, spec.name, spec.model_dump(mode="json"), len(spec.tasks),
        )  # fmt: skip
        rows = [
            {"id": str(ids[t.name]), "position": i, "name": t.name, "executor": t.executor,
             "instrument": None, "params": t.params, "depends_on": t.depends_on,
             "dependents": [str(ids[d]) for d in waiting[t.name]], "max_attempts": 1,
             "backoff_s": 1.0, "max_backoff_s": 1.0, "timeout_s": None}
            for i, t in enumerate(spec.tasks)
        ]  # fmt: skip
        await conn.execute(OLD_INSERT_TASKS, wf, rows)
    return wf


async def test_workflows_in_a_database_made_by_the_old_0001_still_run(legacy_url):
    pool = await create_pool(legacy_url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            wf = await submit_the_old_way(conn, WorkflowSpec.model_validate(diamond()))
        assert await pool.fetchval(Q.start_workflow, wf, "coordinator") is True
        a = await pool.fetchrow(
            "SELECT id, attempt FROM tasks WHERE workflow_id = $1 AND name = 'a'", wf
        )
        assert await pool.fetchrow(Q.claim_task, a["id"], a["attempt"], "r1") is not None
    finally:
        await pool.close()

    await migrate.apply(legacy_url)  # mid-run: a running, the rest pending

    pool = await create_pool(legacy_url, min_size=1, max_size=2)
    try:
        outcome = await pool.fetchval(
            Q.finish_task, a["id"], a["attempt"], "succeeded", {}, None, "runner:r1", None
        )
        assert outcome == "succeeded"
        for name in ("b", "c", "d"):
            row = await pool.fetchrow(
                "SELECT id, attempt, status FROM tasks WHERE workflow_id = $1 AND name = $2",
                wf,
                name,
            )
            assert row["status"] == "queued", name
            assert await pool.fetchrow(Q.claim_task, row["id"], row["attempt"], "r1") is not None
            await pool.fetchval(
                Q.finish_task, row["id"], row["attempt"], "succeeded", {}, None, "runner:r1", None
            )
        assert await pool.fetchval("SELECT status FROM workflows WHERE id = $1", wf) == "succeeded"
        # The history kept what happened before the migration, and the new writer's events.
        history = await pool.fetchval("SELECT count(*) FROM history WHERE workflow_id = $1", wf)
        events = await pool.fetch(
            "SELECT event_type FROM outbox WHERE workflow_id = $1 AND task_id IS NOT NULL", wf
        )
    finally:
        await pool.close()
    assert (
        history == 3 + 4 * 3
    )  # workflow pending/running/succeeded; each task queued/running/succeeded
    assert len(events) == 4 * 3


async def test_changed_code_is_applied_again_and_what_it_no_longer_defines_is_dropped(
    owner_database_url,
):
    conn = await asyncpg.connect(owner_database_url)
    try:
        await conn.execute(
            """CREATE FUNCTION laf_obsolete() RETURNS int LANGUAGE sql AS 'SELECT 1';
               CREATE FUNCTION laf_obsolete_trigger() RETURNS trigger LANGUAGE plpgsql
                   AS 'BEGIN RETURN NULL; END';
               CREATE TRIGGER obsolete AFTER INSERT ON runners
                   FOR EACH ROW EXECUTE FUNCTION laf_obsolete_trigger();
               CREATE FUNCTION not_ours() RETURNS int LANGUAGE sql AS 'SELECT 2';
               UPDATE schema_code SET checksum = 'older' WHERE file = 'transitions.sql'"""
        )
        await migrate.apply(owner_database_url)
        functions = {
            r[0]
            for r in await conn.fetch(
                "SELECT proname FROM pg_proc WHERE proname LIKE '%obsolete%' OR proname = 'not_ours'"
            )
        }
        triggers = {
            r[0] for r in await conn.fetch("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        }
        recorded = await conn.fetchval(
            "SELECT checksum FROM schema_code WHERE file = 'transitions.sql'"
        )
    finally:
        await conn.close()
    assert functions == {"not_ours"}  # only laf_* functions belong to the code files
    assert "obsolete" not in triggers
    assert {"tasks_status_changed", "workflows_inserted", "history_append_only"} <= triggers
    assert recorded == migrate.checksum(dict(migrate.code())["transitions.sql"])


async def test_a_broken_code_file_changes_nothing(owner_database_url, monkeypatch):
    files = migrate.code()
    broken = [(name, sql) for name, sql in files] + [("zz_broken.sql", "CREATE FUNCTION laf_x( AS")]
    monkeypatch.setattr(migrate, "code", lambda: broken)
    with pytest.raises(asyncpg.PostgresSyntaxError):
        await migrate.apply(owner_database_url)
    conn = await asyncpg.connect(owner_database_url)
    try:
        recorded = await conn.fetchval("SELECT count(*) FROM schema_code")
    finally:
        await conn.close()
    assert recorded == len(files)
