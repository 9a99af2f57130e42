"""Probes, metrics, the workflow JSON Schema and the placeholder front page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from laf_core.contracts.workflow import WorkflowSpec

router = APIRouter()
_SCHEMA = WorkflowSpec.model_json_schema()


@router.get("/api/schemas/workflow", tags=["schemas"])
async def workflow_schema() -> dict[str, Any]:
    """The JSON Schema of the workflow document, generated from the API's own models."""
    return _SCHEMA


@router.get("/healthz", tags=["probes"], response_class=PlainTextResponse)
async def healthz() -> str:
    return "ok\n"


@router.get("/readyz", tags=["probes"], response_class=PlainTextResponse)
async def readyz(request: Request, response: Response) -> str:
    pool = request.app.state.pool
    try:
        if pool is None:
            raise ConnectionError("no pool yet")
        await pool.fetchval("SELECT 1", timeout=2)
    except Exception as exc:
        response.status_code = 503
        return f"not ready: database: {exc}\n"
    return "ready\n"


@router.get("/metrics", tags=["probes"], response_class=PlainTextResponse)
async def metrics(request: Request) -> str:
    return request.app.state.metrics.render()  # type: ignore[no-any-return]
