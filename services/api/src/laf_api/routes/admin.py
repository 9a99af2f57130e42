"""Administration: what the system could not handle."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from laf_api.deps import Pool
from laf_core.db.queries import Q

router = APIRouter(prefix="/api/admin", tags=["admin"])


class DeadLetter(BaseModel):
    id: int
    message_id: str | None
    routing_key: str | None
    queue: str | None
    reason: str | None
    headers: dict[str, str]
    body: str
    received_at: datetime


@router.get("/dead-letters", response_model=list[DeadLetter])
async def dead_letters(
    pool: Pool, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[DeadLetter]:
    """Messages no consumer could handle (unreadable, or failing every delivery), newest
    first, each with the reason and the queue it came from. The coordinator moves them
    here from the `laf.dead-letters` queue."""
    return [DeadLetter(**dict(r)) for r in await pool.fetch(Q.list_dead_letters, limit)]
