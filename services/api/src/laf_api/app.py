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
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from laf_api.live import LiveEvents
from laf_api.routes import admin, control, events, instruments, meta, webhooks, workflows
from laf_core.contracts.workflow import EXECUTORS
from laf_core.db.pool import create_pool_retrying
from laf_core.errors import is_transient
from laf_core.metrics import Metrics
from laf_core.settings import ApiSettings, CommonSettings

log = logging.getLogger(__name__)


def _clean_errors(errors: Any, body: Any) -> list[dict[str, Any]]:
    """Pydantic errors made readable: no echoed input (a whole document), no
    "Value error," prefix, and errors inside a task name that task."""
    cleaned = []
    for error in errors:
        loc = list(error.get("loc", ()))
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        if loc[-1:] == ["executor"] and error.get("type") == "literal_error":
            message = f"unknown executor {error.get('input')!r}; LAF has {', '.join(EXECUTORS)}"
        name = _task_name(body, loc)
        if name is not None and f"task '{name}'" not in message:
            message = f"task '{name}': {message}"
        cleaned.append({"loc": loc, "msg": message, "type": error.get("type")})
    return cleaned


def _task_name(body: Any, loc: list[Any]) -> str | None:
    """The name of the task an error location points into, if it has one."""
    if len(loc) >= 3 and loc[:2] == ["body", "tasks"] and isinstance(loc[2], int):
        with contextlib.suppress(AttributeError, IndexError, KeyError, TypeError):
            name = body["tasks"][loc[2]]["name"]
            return name if isinstance(name, str) else None
    return None


_NO_FRONTEND = """<!doctype html><title>LAF API</title>
<h1>LAF API</h1><p>No frontend is configured (set LAF_API_FRONTEND_DIR).
See <a href="/docs">/docs</a> and <a href="/api/workflows">/api/workflows</a>.</p>"""


def _document_raw_bodies(app: FastAPI) -> None:
    """Add the models of bodies read raw (signed webhooks) to the OpenAPI components."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            document.setdefault("components", {}).setdefault("schemas", {}).update(
                webhooks.REPORT_COMPONENTS
            )
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(common: CommonSettings, settings: ApiSettings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if common.dev_mode:
            log.warning(
                "DEV MODE: the API is open to anyone and uses the development webhook secret"
            )
        stop = asyncio.Event()

        async def connect() -> None:
            app.state.pool = await create_pool_retrying(
                common.database_url, stop, min_size=2, max_size=settings.pool_size
            )

        background = [asyncio.create_task(connect()), asyncio.create_task(app.state.live.run(stop))]
        try:
            yield
        finally:
            stop.set()
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
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
    app.state.live = LiveEvents(common.amqp_url)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _clean_errors(exc.errors(), exc.body)}, status_code=422)

    @app.exception_handler(asyncpg.PostgresError)
    @app.exception_handler(OSError)
    async def database_trouble(_: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, asyncpg.PostgresError) and not is_transient(exc):
            raise exc
        log.warning("database unavailable: %s", exc)
        return JSONResponse({"detail": "the database is unavailable; try again"}, status_code=503)

    app.include_router(workflows.router)
    app.include_router(control.router)
    app.include_router(admin.router)
    app.include_router(instruments.router)
    app.include_router(webhooks.router)
    app.include_router(events.router)
    app.include_router(meta.router)
    _document_raw_bodies(app)
    if settings.frontend_dir:
        folder = Path(settings.frontend_dir)
        if not folder.is_dir():
            raise ValueError(f"LAF_API_FRONTEND_DIR={folder} is not a folder")
        app.mount("/", StaticFiles(directory=folder, html=True), name="frontend")
    else:

        @app.get("/", include_in_schema=False, response_class=HTMLResponse)
        async def no_frontend() -> str:
            return _NO_FRONTEND

    return app
