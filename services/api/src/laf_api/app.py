"""create_app(settings): the FastAPI application, no import-time singletons."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from laf_api import audit, message_docs, openapi_doc, telemetry
from laf_api.auth import principal
from laf_api.credential_cache import CredentialCache
from laf_api.deps import RETRY_AFTER_S
from laf_api.errors import Forbidden, NotFound, Refused, Unacceptable
from laf_api.guard import RequestGuard
from laf_api.live import LiveEvents
from laf_api.oidc import OidcVerifier
from laf_api.routes import (
    admin,
    auth,
    blobs,
    control,
    events,
    inbox,
    instruments,
    meta,
    system,
    webhooks,
    workflows,
)
from laf_api.routes import audit as audit_routes
from laf_api.settings import ApiSettings, OidcSettings
from laf_api.store import workflows as workflows_store
from laf_core.aio import sleep
from laf_core.contracts.states import EXECUTORS
from laf_core.db.pool import create_pool_retrying
from laf_core.errors import is_transient
from laf_core.metrics import Metrics
from laf_core.policy import TaskPolicy
from laf_core.settings import CommonSettings
from laf_core.signing import ReplayCache

log = logging.getLogger(__name__)


def _clean_errors(errors: Any, body: Any) -> list[dict[str, Any]]:
    """Pydantic errors made readable: no echoed input (a whole document), no
    "Value error," prefix, and errors inside a task name that task."""
    cleaned = []
    for error in _fold_literal_unions(errors):
        loc = list(error.get("loc", ()))
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        if loc[-1:] == ["executor"] and error.get("type") == "literal_error":
            message = f"unknown executor {error.get('input')!r}; LAF has {', '.join(EXECUTORS)}"
        name = _task_name(body, loc)
        if name is not None and f"task '{name}'" not in message:
            message = f"task '{name}': {message}"
        cleaned.append({"loc": loc, "msg": message, "type": error.get("type")})
    return cleaned


_UNION_MEMBER = re.compile(r"^literal\[(.*)\]$")


def _fold_literal_unions(errors: Any) -> list[dict[str, Any]]:
    """A value outside a union of state lists (`WorkflowStatus` = active | final) fails once
    per list, at a location ending in `literal[...]`: say it once, with every allowed value."""
    folded: list[dict[str, Any]] = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        member = _UNION_MEMBER.match(str(loc[-1])) if loc else None
        if error.get("type") != "literal_error" or member is None:
            folded.append(error)
            continue
        allowed = re.findall(r"'([^']*)'", member.group(1))
        last = folded[-1] if folded else None
        if last is not None and last.get("type") == "literal_error" and last["loc"] == loc[:-1]:
            last["allowed"] += allowed
        else:
            folded.append({**error, "loc": loc[:-1], "allowed": allowed})
    for error in folded:
        if "allowed" in error:
            error["msg"] = "Input should be one of " + ", ".join(map(repr, error.pop("allowed")))
    return folded


def _task_name(body: Any, loc: list[Any]) -> str | None:
    """The name of the task an error location points into, if it has one."""
    if len(loc) >= 3 and loc[:2] == ["body", "tasks"] and isinstance(loc[2], int):
        with contextlib.suppress(AttributeError, IndexError, KeyError, TypeError):
            name = body["tasks"][loc[2]]["name"]
            return name if isinstance(name, str) else None
    return None


# What the data-access layer's refusals mean to an HTTP client.
_STATUS_OF: dict[type[Exception], int] = {
    NotFound: 404,
    Refused: 409,
    Unacceptable: 422,
    Forbidden: 403,
}

_NO_FRONTEND = """<!doctype html><title>LAF API</title>
<h1>LAF API</h1><p>No frontend is configured (set LAF_API_FRONTEND_DIR).
See <a href="/docs">/docs</a> and <a href="/api/workflows">/api/workflows</a>.</p>"""


def _document_everything(app: FastAPI) -> None:
    """Complete the OpenAPI document: every status each operation can answer
    (openapi_doc), and the models of bodies read raw (signed webhooks)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = openapi_doc.complete(generate())
            document.setdefault("components", {}).setdefault("schemas", {}).update(
                webhooks.REPORT_COMPONENTS
            )
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend it


def create_app(
    common: CommonSettings,
    settings: ApiSettings,
    oidc: OidcSettings | None = None,
    policy: TaskPolicy | None = None,
) -> FastAPI:
    """The API. Refuses to build without a signing secret of at least 32 bytes."""
    signing_secret = common.signing_secret()
    oidc = oidc if oidc is not None else OidcSettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        common.warn_if_open("laf-api")
        stop = asyncio.Event()

        async def connect() -> None:
            try:
                app.state.pool = await create_pool_retrying(
                    common.database_url, stop, min_size=2, max_size=settings.pool_size
                )
                app.state.report_pool = await create_pool_retrying(
                    common.database_url, stop, min_size=1, max_size=settings.report_pool_size
                )
            except Exception:
                if not stop.is_set():
                    log.exception("cannot connect to PostgreSQL: the API stays not ready")
                raise

        async def checkpoints() -> None:
            while app.state.pool is None:  # until connect() made it
                if await sleep(0.2, stop):
                    return
            await audit.checkpoint_forever(
                app.state.pool,
                audit.checkpoint_key(signing_secret),
                settings.audit_checkpoint_s,
                stop,
            )

        background = [
            asyncio.create_task(connect()),
            asyncio.create_task(app.state.live.run(stop)),
            asyncio.create_task(checkpoints()),
            asyncio.create_task(app.state.credentials.run(common.database_url, stop)),
        ]
        try:
            yield
        finally:
            stop.set()
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for pool in (app.state.report_pool, app.state.pool):
                if pool is not None:
                    await pool.close()

    app = FastAPI(
        title="LAF API",
        version="1.0.0",
        summary="Laboratory Automation Framework: workflows, tasks, runners.",
        lifespan=lifespan,
    )
    app.state.common = common
    app.state.settings = settings
    app.state.signing_secret = signing_secret
    app.state.oidc = OidcVerifier(oidc) if oidc.issuer else None
    app.state.policy = policy if policy is not None else TaskPolicy()
    app.state.pool = None
    app.state.report_pool = None  # webhooks' own; the main pool serves them until it exists
    app.state.replays = ReplayCache(settings.signature_window_s)
    app.state.served_executors = workflows_store.ServedExecutors()
    app.state.event_streams = events.StreamCount()
    app.state.metrics = Metrics("laf_api")
    app.state.live = LiveEvents(common.amqp_url)
    app.state.credentials = CredentialCache(settings.credential_cache_s)

    @app.exception_handler(NotFound)
    @app.exception_handler(Forbidden)
    @app.exception_handler(Refused)
    @app.exception_handler(Unacceptable)
    async def not_done(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=_STATUS_OF[type(exc)])

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:  # Allow: every method of the path, not the first route's
            allowed = {
                method
                for route in app.router.routes
                if isinstance(route, APIRoute) and route.path_regex.match(request.url.path)
                for method in route.methods or ()
            }
            exc.headers = {**(exc.headers or {}), "Allow": ", ".join(sorted(allowed))}
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _clean_errors(exc.errors(), exc.body)}, status_code=422)

    @app.exception_handler(TimeoutError)
    async def database_busy(_: Request, exc: Exception) -> JSONResponse:
        log.warning("no database connection in time, or a query timed out (%s)", type(exc).__name__)
        return JSONResponse(
            {"detail": "the database is busy; try again shortly"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    @app.exception_handler(asyncpg.InterfaceError)
    async def connection_lost(request: Request, exc: Exception) -> JSONResponse:
        """A pooled connection the database dropped under a request (a restart): an outage,
        not a bug; any other interface error is one."""
        if "released back to the pool" not in str(exc) and "connection is closed" not in str(exc):
            raise exc
        return await database_trouble(request, ConnectionResetError())

    @app.exception_handler(asyncpg.PostgresError)
    @app.exception_handler(OSError)
    async def database_trouble(_: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, asyncpg.PostgresError) and not is_transient(exc):
            raise exc
        log.warning("database unavailable: %s", type(exc).__name__)
        return JSONResponse(
            {"detail": "the database is unavailable; try again"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    # The runners' reports first: routes are matched in order, and theirs is the hot path
    # (a result per task); matching fifty routes before it cost ~7 % of the API's CPU.
    app.include_router(webhooks.router)
    app.include_router(auth.router)
    app.include_router(workflows.router)
    app.include_router(control.router)
    app.include_router(audit_routes.router)
    app.include_router(blobs.router)
    app.include_router(admin.router)
    app.include_router(instruments.router)
    app.include_router(inbox.router)
    app.include_router(events.router)
    app.include_router(system.router)
    app.include_router(meta.router)
    app.include_router(message_docs.router)
    _document_everything(app)
    app.add_middleware(RequestGuard, settings=settings, authenticate=principal)
    telemetry.instrument(app, app.state.metrics)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )
    if "*" not in settings.allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts)
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
