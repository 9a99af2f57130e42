"""The operator's inbox: what awaits a person now, across every workflow."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from laf_api.auth import Viewer
from laf_api.deps import Pool
from laf_api.schemas import InboxItem
from laf_api.store import inbox

router = APIRouter(prefix="/api/inbox", tags=["inbox"])


@router.get("", response_model=list[InboxItem])
async def awaiting_operator(
    _: Viewer, pool: Pool, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[InboxItem]:
    """Steps awaiting an operator: every `manual` task running, longest waiting first,
    with its params (`instructions`, and `outputs_schema` where the task gives one).
    Complete one with POST /api/workflows/{id}/tasks/{name}/complete (operator)."""
    async with pool.acquire() as conn:
        return await inbox.awaiting_operator(conn, limit)
