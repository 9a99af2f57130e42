"""FastAPI dependencies: the pools and settings live on app.state (no globals)."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from asyncpg.pool import PoolAcquireContext
from fastapi import Depends, HTTPException, Request

from laf_api.settings import ApiSettings
from laf_core.metrics import Metrics
from laf_core.settings import CommonSettings

RETRY_AFTER_S = 1  # what a 503 for a busy or unreachable database tells the client


class TimedPool:
    """A pool whose `acquire()` waits at most `timeout_s` for a connection; past that it
    raises TimeoutError, which the API answers 503 with Retry-After (app.py)."""

    def __init__(self, pool: asyncpg.Pool, timeout_s: float) -> None:
        self.pool = pool
        self.timeout_s = timeout_s

    def acquire(self) -> PoolAcquireContext[asyncpg.Record]:
        return self.pool.acquire(timeout=self.timeout_s)


def unavailable(message: str) -> HTTPException:
    return HTTPException(503, message, headers={"Retry-After": str(RETRY_AFTER_S)})


def _timed(request: Request, found: asyncpg.Pool | None) -> TimedPool:
    if found is None:
        raise unavailable("the database is not reachable yet; try again shortly")
    settings: ApiSettings = request.app.state.settings
    return TimedPool(found, settings.pool_acquire_timeout_s)


async def pool(request: Request) -> TimedPool:
    """The pool of public reads and operator actions."""
    return _timed(request, request.app.state.pool)


def _reports(request: Request) -> asyncpg.Pool | None:
    own: asyncpg.Pool | None = getattr(request.app.state, "report_pool", None)
    return own if own is not None else request.app.state.pool


async def report_pool(request: Request) -> TimedPool:
    """The pool of runners' webhooks and heartbeats (the main one where none of its own)."""
    return _timed(request, _reports(request))


def pool_for(request: Request) -> TimedPool:
    """The pool a request's own lookups (its credential) use: runners' calls have theirs."""
    if request.url.path.startswith("/api/webhooks/"):
        return _timed(request, _reports(request))
    return _timed(request, request.app.state.pool)


async def common(request: Request) -> CommonSettings:
    found: CommonSettings = request.app.state.common  # Starlette's state is untyped
    return found


async def api_settings(request: Request) -> ApiSettings:
    found: ApiSettings = request.app.state.settings
    return found


async def metrics(request: Request) -> Metrics:
    found: Metrics = request.app.state.metrics
    return found


Pool = Annotated[TimedPool, Depends(pool)]
ReportPool = Annotated[TimedPool, Depends(report_pool)]
Common = Annotated[CommonSettings, Depends(common)]
Settings = Annotated[ApiSettings, Depends(api_settings)]
AppMetrics = Annotated[Metrics, Depends(metrics)]
