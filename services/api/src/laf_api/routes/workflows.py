"""Submitting, listing and reading workflows."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Response, status

from laf_api import store
from laf_api.deps import Actor, AppMetrics, Pool, Settings
from laf_api.schemas import HistoryEntry, WorkflowOut, WorkflowPage
from laf_core.contracts.workflow import WorkflowSpec
from laf_core.tracing import traceparent

router = APIRouter(prefix="/api/workflows", tags=["workflows"])

STATUSES = ("pending", "running", "paused", "succeeded", "failed", "cancelled")


def parse_id(workflow_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(workflow_id)
    except ValueError:
        raise HTTPException(404, f"no workflow with id '{workflow_id}'") from None


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WorkflowOut,
    responses={200: {"description": "Repeat of an earlier Idempotency-Key: that workflow"}},
)
async def submit_workflow(
    spec: WorkflowSpec,
    pool: Pool,
    metrics: AppMetrics,
    response: Response,
    actor: Actor,
    settings: Settings,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> WorkflowOut:
    """Validate a workflow document and store it; the coordinator starts it."""
    async with pool.acquire() as conn:
        unserved = await store.check_executors_served(conn, spec, settings.runner_liveness_s)
        if unserved:
            raise HTTPException(422, unserved)
        try:
            workflow_id, created = await store.create_workflow(
                conn, spec, actor=actor, idempotency_key=idempotency_key
            )
        except store.InvalidForInstrument as exc:
            raise HTTPException(422, str(exc)) from None
        workflow = created or await store.get_workflow(conn, workflow_id)
    assert workflow is not None
    response.headers["traceparent"] = traceparent(workflow.id)
    if created:
        metrics.inc("workflows_submitted")
    else:
        response.status_code = status.HTTP_200_OK
    return workflow


@router.get("", response_model=WorkflowPage)
async def list_workflows(
    pool: Pool,
    status_filter: Annotated[
        str | None, Query(alias="status", description="One of the workflow states")
    ] = None,
    label: Annotated[
        list[str] | None, Query(description="key=value; repeat to require several")
    ] = None,
    q: Annotated[str | None, Query(max_length=200, description="Part of the name")] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> WorkflowPage:
    """Workflows, newest first."""
    if status_filter is not None and status_filter not in STATUSES:
        raise HTTPException(422, f"status must be one of {', '.join(STATUSES)}")
    labels = None
    if label:
        labels = {}
        for item in label:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise HTTPException(422, f"label filter '{item}' must look like key=value")
            labels[key] = value
    try:
        position = store.decode_cursor(cursor) if cursor else None
    except ValueError:
        raise HTTPException(422, "cursor is not one this API returned") from None
    async with pool.acquire() as conn:
        items, next_position = await store.list_workflows(
            conn, status=status_filter, labels=labels, q=q, cursor=position, limit=limit
        )
    return WorkflowPage(
        items=items, next_cursor=store.encode_cursor(next_position) if next_position else None
    )


@router.get(
    "/{workflow_id}", response_model=WorkflowOut, responses={404: {"description": "Unknown"}}
)
async def get_workflow(workflow_id: str, pool: Pool) -> WorkflowOut:
    async with pool.acquire() as conn:
        workflow = await store.get_workflow(conn, parse_id(workflow_id))
    if workflow is None:
        raise HTTPException(404, f"no workflow with id '{workflow_id}'")
    return workflow


@router.get("/{workflow_id}/history", response_model=list[HistoryEntry])
async def get_history(workflow_id: str, pool: Pool) -> list[HistoryEntry]:
    """Every state change of the workflow and its tasks, oldest first: the audit trail."""
    async with pool.acquire() as conn:
        history = await store.get_history(conn, parse_id(workflow_id))
    if history is None:
        raise HTTPException(404, f"no workflow with id '{workflow_id}'")
    return history
