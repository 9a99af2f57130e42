"""Operator control: cancel, pause, resume a workflow; retry, skip, complete a task.

Each action is one SQL function (the same guarded transitions the services
use); a state that forbids it is a 409 with the reason, and the actor and
reason land in the audit trail.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException

from laf_api import store
from laf_api.deps import Actor, AppMetrics, Pool
from laf_api.routes.workflows import parse_id
from laf_api.schemas import ActionRequest, CompleteRequest, ReasonRequired, WorkflowOut
from laf_core.db.queries import Q

router = APIRouter(prefix="/api/workflows/{workflow_id}", tags=["control"])
_ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such workflow or task"},
    409: {"description": "The current state does not allow this action; `detail` says why"},
}


async def _act(pool: Pool, workflow_id: str, query: str, *args: object, what: str) -> WorkflowOut:
    wf = parse_id(workflow_id)
    async with pool.acquire() as conn:
        outcome = await conn.fetchval(query, wf, *args)
        if outcome == "unknown":
            raise HTTPException(404, f"no {what}")
        if outcome.startswith("refused: "):
            raise HTTPException(409, outcome.removeprefix("refused: "))
        workflow = await store.get_workflow(conn, wf)
    assert workflow is not None
    return workflow


@router.post("/cancel", response_model=WorkflowOut, responses=_ANSWERS)
async def cancel(
    workflow_id: str, body: ReasonRequired, pool: Pool, actor: Actor, metrics: AppMetrics
) -> WorkflowOut:
    """No new task starts; running tasks are stopped; the workflow ends `cancelled`."""
    result = await _act(
        pool, workflow_id, Q.cancel_workflow, actor, body.reason, what=f"workflow '{workflow_id}'"
    )
    metrics.inc("workflows_cancelled")
    return result


@router.post("/pause", response_model=WorkflowOut, responses=_ANSWERS)
async def pause(
    workflow_id: str, pool: Pool, actor: Actor, body: Annotated[ActionRequest | None, Body()] = None
) -> WorkflowOut:
    """Nothing new starts; running tasks finish."""
    reason = body.reason if body else None
    return await _act(
        pool, workflow_id, Q.pause_workflow, actor, reason, what=f"workflow '{workflow_id}'"
    )


@router.post("/resume", response_model=WorkflowOut, responses=_ANSWERS)
async def resume(
    workflow_id: str, pool: Pool, actor: Actor, body: Annotated[ActionRequest | None, Body()] = None
) -> WorkflowOut:
    """Continue a paused workflow exactly where it stopped."""
    reason = body.reason if body else None
    return await _act(
        pool, workflow_id, Q.resume_workflow, actor, reason, what=f"workflow '{workflow_id}'"
    )


@router.post("/tasks/{name}/retry", response_model=WorkflowOut, responses=_ANSWERS)
async def retry(
    workflow_id: str, name: str, body: ReasonRequired, pool: Pool, actor: Actor
) -> WorkflowOut:
    """Run a failed task again (a new attempt), with the dependents its failure skipped."""
    return await _act(
        pool,
        workflow_id,
        Q.retry_task,
        name,
        actor,
        body.reason,
        what=f"task '{name}' in workflow '{workflow_id}'",
    )


@router.post("/tasks/{name}/skip", response_model=WorkflowOut, responses=_ANSWERS)
async def skip(
    workflow_id: str, name: str, body: ReasonRequired, pool: Pool, actor: Actor
) -> WorkflowOut:
    """A failed or not yet started task counts as done, without outputs."""
    return await _act(
        pool,
        workflow_id,
        Q.skip_task,
        name,
        actor,
        body.reason,
        what=f"task '{name}' in workflow '{workflow_id}'",
    )


@router.post("/tasks/{name}/complete", response_model=WorkflowOut, responses=_ANSWERS)
async def complete(
    workflow_id: str, name: str, body: CompleteRequest, pool: Pool, actor: Actor
) -> WorkflowOut:
    """Finish a `manual` task that awaits an operator, with its outputs."""
    return await _act(
        pool,
        workflow_id,
        Q.complete_task,
        name,
        body.outputs,
        actor,
        body.reason,
        what=f"task '{name}' in workflow '{workflow_id}'",
    )
