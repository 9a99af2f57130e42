"""Administration: the messages no consumer could handle, and what waits to be relayed."""

from __future__ import annotations

from laf_api.schemas import DeadLetter, DeadLetterState, OutboxState
from laf_core.db.pool import Connection
from laf_core.db.queries import Q


async def dead_letters(conn: Connection, limit: int, before: int | None = None) -> list[DeadLetter]:
    """The newest `limit` dead letters, or those older than the one with id `before`."""
    return [DeadLetter(**dict(r)) for r in await conn.fetch(Q.list_dead_letters, limit, before)]


async def outbox_state(conn: Connection) -> OutboxState:
    """The events not yet relayed (the listener measures the same for /metrics)."""
    row = await conn.fetchrow(Q.outbox_backlog)
    assert row is not None  # an aggregate: always one row
    return OutboxState(backlog=row["events"], oldest_age_s=row["oldest_s"])


async def dead_letter_state(conn: Connection) -> DeadLetterState:
    row = await conn.fetchrow(Q.dead_letters_summary)
    assert row is not None  # an aggregate: always one row
    return DeadLetterState(count=row["count"], latest_at=row["latest_at"])
