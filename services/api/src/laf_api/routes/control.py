"""Operator control: cancel, pause, resume a workflow; retry, skip, complete a task.

Each action is one SQL function (the same guarded transitions the services use);
a state that forbids it is a 409 with the reason, and the actor and reason land in
the audit trail.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from laf_api.auth import Operator
from laf_api.deps import AppMetrics, Pool
from laf_api.routes.workflows import parse_id
from laf_api.schemas import ActionRequest, CompleteRequest, ReasonRequired, WorkflowOut
from laf_api.store import control

router = APIRouter(prefix="/api/workflows/{workflow_id}", tags=["control"])
_ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such workflow or task"},
    409: {"description": "The current state does not allow this action; `detail` says why"},
}


@router.post("/cancel", response_model=WorkflowOut, responses=_ANSWERS)
async def cancel(
    workflow_id: str, body: ReasonRequired, pool: Pool, caller: Operator, metrics: AppMetrics
) -> WorkflowOut:
    """No new task starts; running tasks are stopped; the workflow ends `cancelled`."""
    async with pool.acquire() as conn:
        result = await control.cancel(conn, parse_id(workflow_id), caller.actor, body.reason)
    metrics.inc("workflows_cancelled")
    return result


@router.post("/pause", response_model=WorkflowOut, responses=_ANSWERS)
async def pause(
    workflow_id: str,
    pool: Pool,
    caller: Operator,
    body: Annotated[ActionRequest | None, Body()] = None,
) -> WorkflowOut:
    """Nothing new starts; running tasks finish."""
    async with pool.acquire() as conn:
        return await control.pause(
            conn, parse_id(workflow_id), caller.actor, body.reason if body else None
        )


@router.post("/resume", response_model=WorkflowOut, responses=_ANSWERS)
async def resume(
    workflow_id: str,
    pool: Pool,
    caller: Operator,
    body: Annotated[ActionRequest | None, Body()] = None,
) -> WorkflowOut:
    """Continue a paused workflow exactly where it stopped."""
    async with pool.acquire() as conn:
        return await control.resume(
            conn, parse_id(workflow_id), caller.actor, body.reason if body else None
        )


@router.post("/tasks/{name}/retry", response_model=WorkflowOut, responses=_ANSWERS)
async def retry(
    workflow_id: str, name: str, body: ReasonRequired, pool: Pool, caller: Operator
) -> WorkflowOut:
    """Run a failed task again (a new attempt), with the dependents its failure skipped."""
    async with pool.acquire() as conn:
        return await control.retry_task(
            conn, parse_id(workflow_id), name, caller.actor, body.reason
        )


@router.post("/tasks/{name}/skip", response_model=WorkflowOut, responses=_ANSWERS)
async def skip(
    workflow_id: str, name: str, body: ReasonRequired, pool: Pool, caller: Operator
) -> WorkflowOut:
    """A failed or not yet started task counts as done, without outputs."""
    async with pool.acquire() as conn:
        return await control.skip_task(conn, parse_id(workflow_id), name, caller.actor, body.reason)


@router.post("/tasks/{name}/complete", response_model=WorkflowOut, responses=_ANSWERS)
async def complete(
    workflow_id: str, name: str, body: CompleteRequest, pool: Pool, caller: Operator
) -> WorkflowOut:
    """Finish a `manual` task that awaits an operator, with its outputs."""
    async with pool.acquire() as conn:
        return await control.complete_task(
            conn, parse_id(workflow_id), name, body.outputs, caller.actor, body.reason
        )
