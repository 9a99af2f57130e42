"""Run database calls really at once: one connection each, all connected before any
starts, so a test named "N concurrent" has N transactions in flight together (a pool of
four would run them four at a time)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import asyncpg

from laf_core.db.pool import connect

T = TypeVar("T")


async def all_at_once(
    database_url: str, calls: Sequence[Callable[[asyncpg.Connection], Awaitable[T]]]
) -> list[T]:
    """Each call on its own connection, released together; their results in order."""
    connections = await asyncio.gather(*(connect(database_url) for _ in calls))
    start = asyncio.Event()

    async def one(
        call: Callable[[asyncpg.Connection], Awaitable[T]], conn: asyncpg.Connection
    ) -> T:
        await start.wait()
        return await call(conn)

    try:
        running = [
            asyncio.create_task(one(c, conn)) for c, conn in zip(calls, connections, strict=True)
        ]
        await asyncio.sleep(0)  # every task is waiting on `start`
        start.set()
        return list(await asyncio.gather(*running))
    finally:
        await asyncio.gather(*(conn.close() for conn in connections), return_exceptions=True)
