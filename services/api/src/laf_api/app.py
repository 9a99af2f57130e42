"""create_app(settings): the FastAPI application, no import-time singletons."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from laf_core.db.pool import create_pool_retrying
from laf_core.errors import is_transient
from laf_core.metrics import Metrics
from laf_core.settings import ApiSettings, CommonSettings
from laf_api.routes import meta, webhooks, workflows

log = logging.getLogger(__name__)


def _clean_errors(errors: Any) -> list[dict[str, Any]]:
    """Pydantic errors without the echoed input (a whole document) and prefixes."""
    cleaned = []
    for error in errors:
        message = str(error.get("msg", ""))
        message = message.removeprefix("Value error, ")
        cleaned.append({"loc": list(error.get("loc", ())), "msg": message, "type": error.get("type")})
    return cleaned


def create_app(common: CommonSettings, settings: ApiSettings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if common.dev_mode:
            log.warning("DEV MODE: the API is open to anyone and uses the development webhook secret")
        stop = asyncio.Event()

        async def connect() -> None:
            app.state.pool = await create_pool_retrying(
                common.database_url, stop, min_size=2, max_size=settings.pool_size
            )

        connecting = asyncio.create_task(connect())
        try:
            yield
        finally:
            stop.set()
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await connecting
            if app.state.pool is not None:
                await app.state.pool.close()

    app = FastAPI(
        title="LAF API",
        version="1.0.0",
        summary="Laboratory Automation Framework: workflows, tasks, runners.",
        lifespan=lifespan,
    )
    app.state.common = common
    app.state.settings = settings
    app.state.pool = None
    app.state.metrics = Metrics("laf_api")

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _clean_errors(exc.errors())}, status_code=422)

    @app.exception_handler(asyncpg.PostgresError)
    @app.exception_handler(OSError)
    async def database_trouble(_: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, asyncpg.PostgresError) and not is_transient(exc):
            raise exc
        log.warning("database unavailable: %s", exc)
        return JSONResponse({"detail": "the database is unavailable; try again"}, status_code=503)

    app.include_router(workflows.router)
    app.include_router(webhooks.router)
    app.include_router(meta.router)
    if settings.frontend_dir:
        folder = Path(settings.frontend_dir)
        if not folder.is_dir():
            raise ValueError(f"LAF_API_FRONTEND_DIR={folder} is not a folder")
        app.router.routes = [r for r in app.router.routes if getattr(r, "path", None) != "/"]
        app.mount("/", StaticFiles(directory=folder, html=True), name="frontend")
    return app
