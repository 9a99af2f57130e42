"""Probes, metrics, the workflow JSON Schema and the placeholder front page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from laf_api.auth import Viewer
from laf_api.readiness import database_problem
from laf_core.contracts.workflow import WorkflowSpec
from laf_core.metrics import Metrics

router = APIRouter()
_SCHEMA = WorkflowSpec.model_json_schema()


@router.get("/api/schemas/workflow", tags=["schemas"])
async def workflow_schema(_: Viewer) -> dict[str, Any]:
    """The JSON Schema of the workflow document, generated from the API's own models."""
    return _SCHEMA


@router.get("/healthz", tags=["probes"], response_class=PlainTextResponse)
async def healthz() -> str:
    return "ok\n"


@router.get("/readyz", tags=["probes"], response_class=PlainTextResponse)
async def readyz(request: Request, response: Response) -> str:
    """`ready`, or 503 with one line per part that is down (no internals: the reason is
    in the API's log). Live events need the broker; the API is ready without it, and says
    so when it is not ready for another reason."""
    problem = await database_problem(request.app.state.pool)
    down = [problem] if problem else []
    lines = [*down]
    if not request.app.state.live.connected:
        lines.append("live events: broker not connected (the API works without them)")
    if down:
        response.status_code = 503
        return "not ready\n" + "".join(f"{line}\n" for line in lines)
    return "ready\n"


@router.get("/metrics", tags=["probes"], response_class=PlainTextResponse)
async def metrics(request: Request) -> str:
    metrics: Metrics = request.app.state.metrics  # Starlette's state is untyped
    return metrics.render()
