"""Administration: what the system could not handle."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from laf_api.auth import Admin
from laf_api.deps import Pool
from laf_api.schemas import DeadLetter
from laf_api.store import admin

router = APIRouter(prefix="/api/admin", tags=["admin"])


@router.get("/dead-letters", response_model=list[DeadLetter])
async def dead_letters(
    _: Admin,
    pool: Pool,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[
        int | None,
        Query(ge=1, le=2**63 - 1, description="Only those older than this id (the next page)"),
    ] = None,
) -> list[DeadLetter]:
    """Messages no consumer could handle (unreadable, or failing every delivery), newest
    first, each with the reason and the queue it came from. The coordinator moves them
    here from the `laf.dead-letters` queue. Paged: pass the last id you got as `before`
    for the next page; fewer than `limit` means the end."""
    async with pool.acquire() as conn:
        return await admin.dead_letters(conn, limit, before)
