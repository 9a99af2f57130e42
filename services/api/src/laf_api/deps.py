"""FastAPI dependencies: the pool and settings live on app.state (no globals)."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import Depends, HTTPException, Request

from laf_core.metrics import Metrics
from laf_core.settings import ApiSettings, CommonSettings


async def pool(request: Request) -> asyncpg.Pool:
    current: asyncpg.Pool | None = request.app.state.pool
    if current is None:
        raise HTTPException(503, "the database is not reachable yet; try again shortly")
    return current


async def common(request: Request) -> CommonSettings:
    return request.app.state.common  # type: ignore[no-any-return]


async def api_settings(request: Request) -> ApiSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def metrics(request: Request) -> Metrics:
    return request.app.state.metrics  # type: ignore[no-any-return]


async def actor(request: Request) -> str:
    """Who acts, for the audit trail: `user:<X-LAF-User>` (no authentication yet; see README)."""
    name = request.headers.get("x-laf-user", "").strip()[:100] or "anonymous"
    return f"user:{name}"


Pool = Annotated[asyncpg.Pool, Depends(pool)]
Common = Annotated[CommonSettings, Depends(common)]
Settings = Annotated[ApiSettings, Depends(api_settings)]
AppMetrics = Annotated[Metrics, Depends(metrics)]
Actor = Annotated[str, Depends(actor)]
