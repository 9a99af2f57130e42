"""asyncpg pools set up the same way in every service."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, TypeAlias

import asyncpg
import pydantic_core

from laf_core import telemetry
from laf_core.aio import sleep
from laf_core.backoff import delays
from laf_core.errors import is_transient

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

log = logging.getLogger(__name__)

# What a query runs on: a connection of its own, or one lent by a pool (`pool.acquire()`).
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


async def _init_connection(conn: asyncpg.Connection) -> None:
    # Read with pydantic's JSON parser (Rust): the same values as json.loads (PostgreSQL has
    # checked the text), 3 to 13 times faster per value; a 10,000-task workflow's GET decodes
    # 20,000 of them.
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(
            kind, encoder=json.dumps, decoder=pydantic_core.from_json, schema="pg_catalog"
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Skip asyncpg's reset query on release (~0.3 ms a request).

    Safe because LAF never leaves session state on pooled connections: its
    settings are transaction-local (set_config(..., true)), LISTEN uses a
    dedicated connection, and the one session setting, `laf.traceparent`, is set
    again on every acquire while tracing is on (laf_core.telemetry.stamp).
    """


async def create_pool(dsn: str, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_keep_session,
        setup=telemetry.stamp if telemetry.enabled() else None,
        command_timeout=30,
    )
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    """A single connection with LAF's codecs (for LISTEN and migrations)."""
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


async def create_pool_retrying(
    dsn: str, stop: asyncio.Event, min_size: int = 1, max_size: int = 10
) -> asyncpg.Pool:
    """create_pool, waiting with backoff while PostgreSQL is down (until `stop`)."""
    for delay in delays(0.2, 5.0):
        try:
            return await create_pool(dsn, min_size=min_size, max_size=max_size)
        except Exception as exc:
            if stop.is_set() or not is_transient(exc):
                raise
            log.warning("PostgreSQL not reachable (%s); retrying in %.1fs", exc, delay)
            await sleep(delay, stop)
    raise AssertionError("unreachable")
