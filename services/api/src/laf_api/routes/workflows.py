"""Submitting, listing and reading workflows."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response, status
from pydantic import StringConstraints

from laf_api.auth import Operator, Viewer
from laf_api.deps import AppMetrics, Pool, Settings
from laf_api.errors import NotFound, Unacceptable
from laf_api.schemas import HistoryEntry, WorkflowOut, WorkflowPage
from laf_api.settings import ApiSettings
from laf_api.store import workflows as store
from laf_core.contracts.states import WorkflowStatus
from laf_core.contracts.workflow import WorkflowSpec
from laf_core.tracing import traceparent

router = APIRouter(prefix="/api/workflows", tags=["workflows"])


def parse_id(workflow_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(workflow_id)
    except ValueError:
        raise NotFound(f"no workflow with id '{workflow_id}'") from None


def check_size(spec: WorkflowSpec, settings: ApiSettings) -> None:
    """Raise Unacceptable for a workflow over a limit of README "Limits", naming it."""
    if len(spec.tasks) > settings.max_workflow_tasks:
        raise Unacceptable(
            f"the workflow has {len(spec.tasks)} tasks; at most "
            f"{settings.max_workflow_tasks} (LAF_API_MAX_WORKFLOW_TASKS)"
        )
    dependencies = sum(len(task.depends_on) for task in spec.tasks)
    if dependencies > settings.max_workflow_dependencies:
        raise Unacceptable(
            f"the workflow has {dependencies} dependencies; at most "
            f"{settings.max_workflow_dependencies} (LAF_API_MAX_WORKFLOW_DEPENDENCIES)"
        )
    # The sum of each one's JSON size, in one encoding (not 10,000): a list's JSON adds its
    # brackets and a ", " between items, 2 characters an item in all.
    parts = [spec.labels, *(t.params for t in spec.tasks)]
    size = len(json.dumps(parts)) - 2 * len(parts)
    if size > settings.max_workflow_data_bytes:
        raise Unacceptable(
            f"the workflow's params and labels take {size} bytes as JSON; at most "
            f"{settings.max_workflow_data_bytes} (LAF_API_MAX_WORKFLOW_DATA_BYTES)"
        )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WorkflowOut,
    responses={
        200: {"description": "Repeat of an earlier Idempotency-Key: that workflow"},
        409: {"description": "The Idempotency-Key was used by this caller for another document"},
    },
)
async def submit_workflow(
    request: Request,
    spec: WorkflowSpec,
    pool: Pool,
    metrics: AppMetrics,
    response: Response,
    caller: Operator,
    settings: Settings,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=200,
            description="Submitting the same document again with the same key answers the "
            "workflow made the first time (200); keys are the caller's own",
        ),
    ] = None,
) -> WorkflowOut:
    """Validate a workflow document, store it and start it: its first tasks are queued in
    the same transaction."""
    check_size(spec, settings)
    async with pool.acquire() as conn:
        workflow, created = await store.submit_workflow(
            conn,
            spec,
            actor=caller.actor,
            idempotency_key=idempotency_key,
            runner_liveness_s=settings.runner_liveness_s,
            served=request.app.state.served_executors,
            policy=request.app.state.policy,
        )
    response.headers["traceparent"] = traceparent(workflow.id)
    if created:
        metrics.inc("workflows_submitted")
    else:
        response.status_code = status.HTTP_200_OK
    return workflow


@router.get("", response_model=WorkflowPage)
async def list_workflows(
    _: Viewer,
    pool: Pool,
    status_filter: Annotated[
        WorkflowStatus | None, Query(alias="status", description="One of the workflow states")
    ] = None,
    label: Annotated[
        list[Annotated[str, StringConstraints(pattern=r"^[^=]+=", max_length=500)]] | None,
        Query(description="key=value; repeat to require several"),
    ] = None,
    q: Annotated[str | None, Query(max_length=200, description="Part of the name")] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    include: Annotated[
        Literal["tasks"] | None, Query(description="`tasks`: each workflow with its tasks")
    ] = None,
) -> WorkflowPage:
    """Workflows, newest first, as summaries (no tasks unless `include=tasks`)."""
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
            conn,
            status=status_filter,
            labels=labels,
            q=q,
            cursor=position,
            limit=limit,
            include_tasks=include == "tasks",
        )
    return WorkflowPage(
        items=items, next_cursor=store.encode_cursor(next_position) if next_position else None
    )


@router.get(
    "/{workflow_id}", response_model=WorkflowOut, responses={404: {"description": "Unknown"}}
)
async def get_workflow(workflow_id: str, _: Viewer, pool: Pool) -> Response:
    async with pool.acquire() as conn:
        body = await store.workflow_json(conn, parse_id(workflow_id))
    return Response(body, media_type="application/json")


@router.get(
    "/{workflow_id}/history",
    response_model=list[HistoryEntry],
    responses={404: {"description": "Unknown"}},
)
async def get_history(
    workflow_id: str,
    _: Viewer,
    pool: Pool,
    after: Annotated[
        int | None,
        Query(ge=0, le=2**63 - 1, description="Only entries after the one with this id"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> list[HistoryEntry]:
    """The state changes of the workflow and its tasks, oldest first: the audit trail.
    Paged: pass the last id you got as `after` for the next page; fewer than `limit`
    entries means the end."""
    async with pool.acquire() as conn:
        return await store.get_history(conn, parse_id(workflow_id), after, limit)
