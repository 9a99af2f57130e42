"""The operator's inbox: steps awaiting an operator across every workflow."""

from __future__ import annotations

from laf_api.schemas import InboxItem
from laf_core.db.pool import Connection
from laf_core.db.queries import Q


async def awaiting_operator(conn: Connection, limit: int) -> list[InboxItem]:
    """`manual` tasks running (each awaits an operator's completion), longest waiting first."""
    return [InboxItem(**dict(r)) for r in await conn.fetch(Q.inbox, limit)]
