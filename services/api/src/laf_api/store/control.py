"""Operator actions: each one guarded SQL function (the transitions the services use).

The functions answer 'ok', 'unknown' (no such workflow or task) or 'refused: <why>';
here they become NotFound and Refused, and the caller gets the workflow as it is now.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from laf_api.errors import NotFound, Refused
from laf_api.schemas import WorkflowOut
from laf_api.store.workflows import get_workflow
from laf_core import telemetry
from laf_core.canonical import sha256_of
from laf_core.db.pool import Connection
from laf_core.db.queries import Q

_ACTION = re.compile(r"laf_(\w+)\(")


async def _act(
    conn: Connection, query: str, workflow_id: uuid.UUID, *args: Any, what: str
) -> WorkflowOut:
    action = _ACTION.search(query)
    with telemetry.workflow_step(
        f"laf.operator {action.group(1) if action else 'action'}", workflow_id
    ):
        await telemetry.stamp(conn)  # what it changes is part of the workflow's trace
        outcome = await conn.fetchval(query, workflow_id, *args)
        telemetry.annotate(outcome=outcome)
    if outcome == "unknown":
        raise NotFound(f"no {what}")
    if outcome.startswith("refused: "):
        raise Refused(outcome.removeprefix("refused: "))
    return await get_workflow(conn, workflow_id)


def _workflow(workflow_id: uuid.UUID) -> str:
    return f"workflow '{workflow_id}'"


def _task(workflow_id: uuid.UUID, name: str) -> str:
    return f"task '{name}' in workflow '{workflow_id}'"


async def cancel(conn: Connection, workflow_id: uuid.UUID, actor: str, reason: str) -> WorkflowOut:
    return await _act(
        conn, Q.cancel_workflow, workflow_id, actor, reason, what=_workflow(workflow_id)
    )


async def pause(
    conn: Connection, workflow_id: uuid.UUID, actor: str, reason: str | None
) -> WorkflowOut:
    return await _act(
        conn, Q.pause_workflow, workflow_id, actor, reason, what=_workflow(workflow_id)
    )


async def resume(
    conn: Connection, workflow_id: uuid.UUID, actor: str, reason: str | None
) -> WorkflowOut:
    return await _act(
        conn, Q.resume_workflow, workflow_id, actor, reason, what=_workflow(workflow_id)
    )


async def retry_task(
    conn: Connection, workflow_id: uuid.UUID, name: str, actor: str, reason: str
) -> WorkflowOut:
    return await _act(
        conn, Q.retry_task, workflow_id, name, actor, reason, what=_task(workflow_id, name)
    )


async def skip_task(
    conn: Connection, workflow_id: uuid.UUID, name: str, actor: str, reason: str
) -> WorkflowOut:
    return await _act(
        conn, Q.skip_task, workflow_id, name, actor, reason, what=_task(workflow_id, name)
    )


async def complete_task(
    conn: Connection,
    workflow_id: uuid.UUID,
    name: str,
    outputs: dict[str, Any],
    actor: str,
    reason: str,
) -> WorkflowOut:
    return await _act(
        conn,
        Q.complete_task,
        workflow_id,
        name,
        outputs,
        actor,
        reason,
        sha256_of(outputs),
        what=_task(workflow_id, name),
    )
