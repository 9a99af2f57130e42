"""Administration: the messages no consumer could handle."""

from __future__ import annotations

from laf_api.schemas import DeadLetter
from laf_core.db.pool import Connection
from laf_core.db.queries import Q


async def dead_letters(conn: Connection, limit: int, before: int | None = None) -> list[DeadLetter]:
    """The newest `limit` dead letters, or those older than the one with id `before`."""
    return [DeadLetter(**dict(r)) for r in await conn.fetch(Q.list_dead_letters, limit, before)]
