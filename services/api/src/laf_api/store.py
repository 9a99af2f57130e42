"""Reading and writing workflows for the API: typed functions around named queries."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

import asyncpg
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from laf_api.schemas import AttemptOut, HistoryEntry, Progress, TaskOut, WorkflowOut
from laf_core.contracts.workflow import OPERATOR_EXECUTORS, WorkflowSpec
from laf_core.dag import dependents_of
from laf_core.db.queries import Q


class InvalidForInstrument(ValueError):
    """A task names an unknown instrument or its params break the instrument's schema."""


def check_instrument_params(spec: WorkflowSpec, instruments: dict[str, dict[str, Any]]) -> None:
    """Raise InvalidForInstrument naming the task and the field. Pure, for the submit path."""
    for task in spec.tasks:
        if not task.instrument:
            continue
        schema = instruments.get(task.instrument)
        if schema is None:
            raise InvalidForInstrument(
                f"task '{task.name}': unknown instrument '{task.instrument}'"
            )
        error = best_match(Draft202012Validator(schema).iter_errors(task.params))
        if error is not None:
            field = ".".join(str(p) for p in error.absolute_path)
            where = f"params.{field}" if field else "params"
            raise InvalidForInstrument(
                f"task '{task.name}': {where}: {error.message} (instrument '{task.instrument}')"
            )


def unserved_executor(spec: WorkflowSpec, live_runners: int, served: set[str]) -> str | None:
    """Why the workflow cannot run on the runners heard from lately, or None. Pure.

    A task whose executor no live runner serves would stay queued forever (say,
    `kubernetes` where no cluster is configured), so it is refused at submit. With
    no live runner at all the runners are down, not misconfigured: the work is
    accepted and waits in its queues. Operator executors (`manual`) need no runner.
    """
    if live_runners == 0:
        return None
    for task in spec.tasks:
        if task.executor not in OPERATOR_EXECUTORS and task.executor not in served:
            return (
                f"task '{task.name}': no runner serves the '{task.executor}' executor "
                f"(the runners heard from lately serve {', '.join(sorted(served)) or 'nothing'})"
            )
    return None


async def check_executors_served(
    conn: asyncpg.Connection, spec: WorkflowSpec, liveness_s: float
) -> str | None:
    row = await conn.fetchrow(Q.served_executors, liveness_s)
    return unserved_executor(spec, row["runners"], set(row["executors"]))


def document_sha256(document: dict[str, Any]) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def create_workflow(
    conn: asyncpg.Connection,
    spec: WorkflowSpec,
    actor: str,
    idempotency_key: str | None,
) -> tuple[uuid.UUID, WorkflowOut | None]:
    """Store the workflow and its tasks in one transaction. Returns its id and, when it
    was created now (not an Idempotency-Key repeat), its view, built without re-reading."""
    instruments = sorted({t.instrument for t in spec.tasks if t.instrument})
    document = spec.model_dump(mode="json", exclude_none=True)
    workflow_id = uuid.uuid4()
    ids = {task.name: uuid.uuid4() for task in spec.tasks}
    waiting_for_me = dependents_of({task.name: task.depends_on for task in spec.tasks})
    retries = [task.effective_retry() for task in spec.tasks]
    async with conn.transaction():
        if instruments:
            rows = await conn.fetch(Q.instrument_schemas, instruments)
            check_instrument_params(spec, {r["id"]: r["parameters_schema"] for r in rows})
        await conn.execute(Q.set_context, actor, "submitted")
        inserted = await conn.fetchrow(
            Q.insert_workflow,
            workflow_id,
            spec.name,
            spec.description,
            spec.labels,
            document,
            document_sha256(document),
            idempotency_key,
            len(spec.tasks),
            actor,
        )
        if inserted is None:  # the same Idempotency-Key was used before
            return await conn.fetchval(Q.workflow_by_idempotency_key, idempotency_key), None
        rows = [
            {
                "id": str(ids[task.name]),
                "position": position,
                "name": task.name,
                "executor": task.executor,
                "instrument": task.instrument,
                "params": task.params,
                "depends_on": task.depends_on,
                "dependents": [str(ids[d]) for d in waiting_for_me[task.name]],
                "max_attempts": retry.max_attempts,
                "backoff_s": retry.backoff_s,
                "max_backoff_s": retry.max_backoff_s,
                "timeout_s": task.timeout_s,
            }
            for position, (task, retry) in enumerate(zip(spec.tasks, retries, strict=True))
        ]
        await conn.execute(Q.insert_tasks, workflow_id, rows)
    tasks = [
        TaskOut(
            id=ids[task.name],
            name=task.name,
            executor=task.executor,
            instrument=task.instrument,
            params=task.params,
            depends_on=task.depends_on,
            status="pending",
            attempt=0,
            max_attempts=retry.max_attempts,
            timeout_s=task.timeout_s,
            retry_at=None,
            outputs=None,
            error=None,
            runner_id=None,
            queued_at=None,
            started_at=None,
            finished_at=None,
            heartbeat_at=None,
        )
        for task, retry in zip(spec.tasks, retries, strict=True)
    ]
    view = WorkflowOut(
        id=workflow_id,
        name=spec.name,
        description=spec.description,
        labels=spec.labels,
        status="pending",
        created_by=actor,
        created_at=inserted["created_at"],
        started_at=None,
        finished_at=None,
        progress=Progress(total=len(tasks), unfinished=len(tasks), failed=0),
        tasks=tasks,
    )
    return workflow_id, view


def _task(row: asyncpg.Record, attempts: list[AttemptOut] | None = None) -> TaskOut:
    fields = {k: v for k, v in row.items() if k != "workflow_id"}
    return TaskOut(**fields, attempts=attempts or [])


def _workflow(row: asyncpg.Record, tasks: list[TaskOut]) -> WorkflowOut:
    return WorkflowOut(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        labels=row["labels"],
        status=row["status"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        progress=Progress(
            total=row["tasks_total"], unfinished=row["tasks_unfinished"], failed=row["tasks_failed"]
        ),
        tasks=tasks,
    )


async def get_workflow(conn: asyncpg.Connection, workflow_id: uuid.UUID) -> WorkflowOut | None:
    row = await conn.fetchrow(Q.get_workflow, workflow_id)
    if row is None:
        return None
    attempts: defaultdict[uuid.UUID, list[AttemptOut]] = defaultdict(list)
    for a in await conn.fetch(Q.get_attempts, workflow_id):
        attempts[a["task_id"]].append(AttemptOut(**{k: v for k, v in a.items() if k != "task_id"}))
    tasks = [_task(t, attempts[t["id"]]) for t in await conn.fetch(Q.get_tasks, workflow_id)]
    return _workflow(row, tasks)


async def list_workflows(
    conn: asyncpg.Connection,
    *,
    status: str | None,
    labels: dict[str, str] | None,
    q: str | None,
    cursor: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> tuple[list[WorkflowOut], tuple[datetime, uuid.UUID] | None]:
    rows = await conn.fetch(
        Q.list_workflows,
        status,
        cursor[0] if cursor else None,
        cursor[1] if cursor else None,
        labels,
        q,
        limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    tasks: defaultdict[uuid.UUID, list[TaskOut]] = defaultdict(list)
    if rows:
        for t in await conn.fetch(Q.get_tasks_of_many, [r["id"] for r in rows]):
            tasks[t["workflow_id"]].append(_task(t))
    items = [_workflow(r, tasks[r["id"]]) for r in rows]
    next_cursor = (rows[-1]["created_at"], rows[-1]["id"]) if more else None
    return items, next_cursor


async def get_history(
    conn: asyncpg.Connection, workflow_id: uuid.UUID
) -> list[HistoryEntry] | None:
    async with conn.transaction():
        if await conn.fetchrow(Q.get_workflow, workflow_id) is None:
            return None
        return [HistoryEntry(**dict(r)) for r in await conn.fetch(Q.get_history, workflow_id)]


def encode_cursor(position: tuple[datetime, uuid.UUID]) -> str:
    raw = f"{position[0].isoformat()}|{position[1]}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Raises ValueError for anything that is not a cursor this API handed out."""
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        created_at, _, workflow_id = base64.urlsafe_b64decode(padded).decode().partition("|")
        return datetime.fromisoformat(created_at), uuid.UUID(workflow_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("invalid cursor") from exc
