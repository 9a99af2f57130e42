"""Workflows: submit (in one transaction), read one, list, and the history."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
import time
import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

import asyncpg
import pydantic_core
from jsonschema.exceptions import best_match
from pydantic import TypeAdapter

from laf_api import user_schemas
from laf_api.errors import NotFound, Refused, Unacceptable
from laf_api.schemas import (
    AttemptOut,
    HistoryEntry,
    Progress,
    TaskOut,
    WorkflowOut,
    WorkflowSummary,
)
from laf_api.store import signatures
from laf_core import telemetry
from laf_core.canonical import canonical_json, sha256_of
from laf_core.contracts.states import FINAL_WORKFLOW_STATUSES, OPERATOR_EXECUTORS
from laf_core.contracts.workflow import WorkflowSpec
from laf_core.dag import dependents_of
from laf_core.db.pool import Connection
from laf_core.db.queries import Q
from laf_core.policy import TaskPolicy


def check_instrument_params(spec: WorkflowSpec, instruments: dict[str, dict[str, Any]]) -> None:
    """Raise Unacceptable when a task names an unknown instrument or its params break the
    instrument's schema, naming the task and the field. Pure, for the submit path (run
    in a worker thread: the schemas are the users', evaluated with RE2)."""
    checkers: dict[str, Any] = {}
    for task in spec.tasks:
        if not task.instrument:
            continue
        schema = instruments.get(task.instrument)
        if schema is None:
            raise Unacceptable(f"task '{task.name}': unknown instrument '{task.instrument}'")
        try:
            if task.instrument not in checkers:
                checkers[task.instrument] = user_schemas.validator(schema)
            error = best_match(user_schemas.errors(checkers[task.instrument], task.params))
        except user_schemas.SchemaRefused as exc:
            raise Unacceptable(
                f"task '{task.name}': instrument '{task.instrument}' has a parameters_schema "
                f"LAF cannot evaluate ({exc}); an administrator must fix it"
            ) from None
        if error is not None:
            field = ".".join(str(p) for p in error.absolute_path)
            where = f"params.{field}" if field else "params"
            raise Unacceptable(
                f"task '{task.name}': {where}: {error.message} (instrument '{task.instrument}')"
            )


def check_policy(spec: WorkflowSpec, policy: TaskPolicy, endpoints: dict[str, str | None]) -> None:
    """Raise Unacceptable for a task that would run code the administrator did not allow,
    or call an instrument at an endpoint the policy refuses. Pure, for the submit path."""
    for task in spec.tasks:
        problem = policy.task_problem(task.executor, task.params)
        if problem is None and task.executor == "http" and task.instrument:
            endpoint = endpoints.get(task.instrument)
            problem = (
                policy.endpoint_problem(endpoint)
                if endpoint
                else f"instrument '{task.instrument}' has no endpoint to call"
            )
        if problem:
            raise Unacceptable(f"task '{task.name}': {problem}")


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


class ServedExecutors:
    """What the runners heard from lately serve (LAF_API_RUNNER_LIVENESS_S), for refusing a
    task no runner would take. An answer that accepts the workflow is reused for up to a
    second (a round trip less for most submits, within a 300 s window by default); one
    that would refuse it is always read afresh, so a runner that just announced itself
    is never refused from a stale answer."""

    FRESH_S = 1.0

    def __init__(self) -> None:
        self._read_at = -math.inf
        self._runners = 0
        self._served: set[str] = set()

    async def check(self, conn: Connection, spec: WorkflowSpec, liveness_s: float) -> None:
        """Raise Unacceptable for a task whose executor no runner heard from lately serves."""
        fresh = time.monotonic() - self._read_at < self.FRESH_S
        if fresh and unserved_executor(spec, self._runners, self._served) is None:
            return
        row = await conn.fetchrow(Q.served_executors, liveness_s)
        assert row is not None  # an aggregate: always one row
        self._runners, self._served = row["runners"], set(row["executors"])
        self._read_at = time.monotonic()
        problem = unserved_executor(spec, self._runners, self._served)
        if problem:
            raise Unacceptable(problem)


def document_sha256(document: dict[str, Any]) -> str:
    return sha256_of(document)


async def create_workflow(
    conn: Connection,
    spec: WorkflowSpec,
    actor: str,
    idempotency_key: str | None,
    policy: TaskPolicy | None = None,
) -> tuple[uuid.UUID, WorkflowOut | None]:
    """Store the workflow and its tasks and start it (its first tasks queued), in one
    transaction. Returns its id and, when it was created now (not an Idempotency-Key
    repeat), its view, built without re-reading.
    `policy` (the API's always) refuses code the administrator did not allow."""
    instruments = sorted({t.instrument for t in spec.tasks if t.instrument})
    document = spec.model_dump(mode="json", exclude_none=True)
    workflow_id = uuid.uuid4()
    ids = {task.name: uuid.uuid4() for task in spec.tasks}
    with telemetry.workflow_root(
        "laf.submit", workflow_id, {"laf.workflow": spec.name, "laf.tasks": len(spec.tasks)}
    ):
        return await _insert(
            conn, spec, actor, idempotency_key, policy, workflow_id, ids, document, instruments
        )


async def _insert(
    conn: Connection,
    spec: WorkflowSpec,
    actor: str,
    idempotency_key: str | None,
    policy: TaskPolicy | None,
    workflow_id: uuid.UUID,
    ids: dict[str, uuid.UUID],
    document: dict[str, Any],
    instruments: list[str],
) -> tuple[uuid.UUID, WorkflowOut | None]:
    waiting_for_me = dependents_of({task.name: task.depends_on for task in spec.tasks})
    retries = [task.effective_retry() for task in spec.tasks]
    rows = await conn.fetch(Q.instrument_schemas, instruments) if instruments else []
    if instruments:  # without an instrument task there is nothing to check, nor a thread hop
        await asyncio.to_thread(
            check_instrument_params, spec, {r["id"]: r["parameters_schema"] for r in rows}
        )
    if policy is not None:
        check_policy(spec, policy, {r["id"]: r["endpoint"] for r in rows})
    task_rows = [
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
    digest = document_sha256(document)
    await telemetry.stamp(conn)  # its events are children of `laf.submit`
    started = await conn.fetch(  # stored and started in one round trip
        Q.submit_workflow,
        workflow_id,
        spec.name,
        spec.description,
        spec.labels,
        document,
        digest,
        idempotency_key,
        actor,
        spec.requires_approval,
        task_rows,
    )
    first = started[0]
    if first["earlier_id"] is not None:  # this caller used the same Idempotency-Key before
        if first["earlier_sha256"] != digest:
            raise Refused(
                f"Idempotency-Key {idempotency_key!r} was used for another document "
                f"(workflow {first['earlier_id']}); use a new key for a new workflow"
            )
        return first["earlier_id"], None
    # A task's state as submitted, or as the start left it (queued, waiting, running).
    pending: dict[str, Any] = dict(
        status="pending", attempt=0, runner_id=None, queued_at=None, started_at=None
    )
    state = {
        row["task_id"]: {key: row[key] for key in pending}
        for row in started
        if row["task_id"] is not None
    }
    tasks = _TASKS.validate_python(  # in one validation, as get_workflow: not a model each
        [
            {
                "id": ids[task.name],
                "name": task.name,
                "executor": task.executor,
                "instrument": task.instrument,
                "params": task.params,
                "depends_on": task.depends_on,
                **state.get(ids[task.name], pending),
                "max_attempts": retry.max_attempts,
                "timeout_s": task.timeout_s,
                "retry_at": None,
                "outputs": None,
                "error": None,
                "finished_at": None,
                "heartbeat_at": None,
            }
            for task, retry in zip(spec.tasks, retries, strict=True)
        ]
    )
    view = WorkflowOut(
        id=workflow_id,
        name=spec.name,
        description=spec.description,
        labels=spec.labels,
        status="running" if first["workflow_started_at"] else "pending",
        created_by=actor,
        created_at=first["created_at"],
        started_at=first["workflow_started_at"],
        finished_at=None,
        progress=Progress(total=len(tasks), unfinished=len(tasks), failed=0),
        tasks=tasks,
        requires_approval=spec.requires_approval,
    )
    return workflow_id, view


async def submit_workflow(
    conn: Connection,
    spec: WorkflowSpec,
    *,
    actor: str,
    idempotency_key: str | None,
    runner_liveness_s: float,
    served: ServedExecutors,
    policy: TaskPolicy,
) -> tuple[WorkflowOut, bool]:
    """A submitted workflow, stored; True when created now, False for the workflow an
    earlier request with the same Idempotency-Key created."""
    await served.check(conn, spec, runner_liveness_s)
    workflow_id, created = await create_workflow(conn, spec, actor, idempotency_key, policy)
    if created is not None:
        return created, True
    return await get_workflow(conn, workflow_id), False


_TASKS: TypeAdapter[list[TaskOut]] = TypeAdapter(list[TaskOut])


def _task(row: asyncpg.Record, attempts: list[AttemptOut] | None = None) -> TaskOut:
    fields = {k: v for k, v in row.items() if k != "workflow_id"}
    return TaskOut(**fields, attempts=attempts or [])


def _workflow(row: asyncpg.Record, tasks: list[TaskOut]) -> WorkflowOut:
    return WorkflowOut(**_summary(row).model_dump(exclude={"tasks"}), tasks=tasks)


def _summary(row: asyncpg.Record, tasks: list[TaskOut] | None = None) -> WorkflowSummary:
    return WorkflowSummary(
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
        requires_approval=row["requires_approval"],
    )


async def get_workflow(conn: Connection, workflow_id: uuid.UUID) -> WorkflowOut:
    """The workflow with its tasks and their attempts; NotFound when unknown.

    Built in one validation of plain rows (10,000 tasks: a model per row cost ~0.2 s),
    and a finished workflow's results hash from the same rows, not read again."""
    view, rows, attempts = await _read(conn, workflow_id)
    return view.model_copy(update={"tasks": _TASKS.validate_python(_task_dicts(rows, attempts))})


async def workflow_json(conn: Connection, workflow_id: uuid.UUID) -> bytes:
    """What `get_workflow` answers, as the JSON FastAPI would send, without validating the
    tasks: PostgreSQL's CHECKs already hold them to TaskOut, and validating 10,000 of
    them was ~40 % of the GET (tests/integration/test_workflow_json.py: the same bytes).

    PostgreSQL writes the tasks' JSON and the results hash's canonical JSON itself
    (queries.sql workflow_view), in one query: decoding 10,000 rows and encoding them
    again took Python ~3/4 of the GET. Only params and outputs that are not {} are
    encoded here, in their places; an unusual value (`plain` false) reads the rows."""
    row = await conn.fetchrow(Q.workflow_view, workflow_id, _FINAL)
    if row is None:
        raise NotFound(f"no workflow with id '{workflow_id}'")
    if not row["plain"]:
        return await _workflow_json_of_rows(conn, workflow_id)
    view = _workflow(row, [])
    hashes = None
    if view.status in FINAL_WORKFLOW_STATUSES:
        outputs = [canonical_json(value) for value in row["results_values"] or []]
        hashes = {workflow_id: hashlib.sha256(_filled(row["results"], outputs)).hexdigest()}
    await signatures.attach(conn, [view], hashes)
    values = [pydantic_core.to_json(v) for task in row["task_values"] or [] for v in task]
    return _with_tasks(view, _filled(row["tasks_json"], values))


def _filled(text: bytes, values: list[bytes]) -> bytes:
    """`text` with each \\x01 byte replaced by the next of `values` (workflow_view)."""
    pieces = text.split(b"\x01")
    if len(pieces) != len(values) + 1:  # the query's two lists of places disagree
        raise AssertionError(f"{len(pieces) - 1} places for {len(values)} values")
    parts = [pieces[0]]
    for value, piece in zip(values, pieces[1:], strict=True):
        parts += (value, piece)
    return b"".join(parts)


async def _workflow_json_of_rows(conn: Connection, workflow_id: uuid.UUID) -> bytes:
    """workflow_json from the rows, encoded by pydantic: for what workflow_view does not
    format (a timeout_s under 1e-4 s, a timestamp at infinity)."""
    view, rows, attempts = await _read(conn, workflow_id)
    return _with_tasks(
        view, pydantic_core.to_json(_task_dicts(rows, attempts), exclude=_NOT_ATTEMPT_OUT)
    )


def _with_tasks(view: WorkflowOut, tasks: bytes) -> bytes:
    """The view's JSON with `tasks`, the JSON array of its tasks, in it."""
    # `"tasks":[]` is first found at the tasks key: the fields before it cannot hold it
    # (their strings escape quotes, and labels' values are strings).
    return _WORKFLOW.dump_json(view).replace(b'"tasks":[]', b'"tasks":' + tasks, 1)


_WORKFLOW: TypeAdapter[WorkflowOut] = TypeAdapter(WorkflowOut)  # as FastAPI serializes it
_FINAL = sorted(FINAL_WORKFLOW_STATUSES)  # workflow_view's $2
# What get_attempts selects beyond AttemptOut's fields (for the results hash).
_NOT_ATTEMPT_OUT = {"__all__": {"attempts": {"__all__": {"task_id", "outputs_sha256"}}}}


def _task_dicts(
    rows: list[asyncpg.Record], attempts: dict[uuid.UUID, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Each task row with its finished attempts: get_tasks selects TaskOut's fields in its
    order, get_attempts AttemptOut's after `task_id`."""
    return [{**t, "attempts": attempts[t["id"]]} for t in rows]


async def _read(
    conn: Connection, workflow_id: uuid.UUID
) -> tuple[WorkflowOut, list[asyncpg.Record], dict[uuid.UUID, list[dict[str, Any]]]]:
    """The workflow (its tasks left out, signatures attached), its task rows and their
    attempts; NotFound when unknown."""
    row = await conn.fetchrow(Q.get_workflow, workflow_id)
    if row is None:
        raise NotFound(f"no workflow with id '{workflow_id}'")
    attempts: defaultdict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for a in await conn.fetch(Q.get_attempts, workflow_id):
        attempts[a["task_id"]].append(dict(a.items()))
    rows = await conn.fetch(Q.get_tasks, workflow_id)
    view = _workflow(row, [])
    hashes = None
    if view.status in FINAL_WORKFLOW_STATUSES:
        hashes = {workflow_id: _results_sha256(rows, attempts)}
    await signatures.attach(conn, [view], hashes)
    return view, rows, attempts


def _results_sha256(
    tasks: list[asyncpg.Record], attempts: dict[uuid.UUID, list[dict[str, Any]]]
) -> str:
    """What store.signatures.results_sha256 answers, from rows already read."""
    results = {}
    for t in tasks:
        done = sorted(attempts[t["id"]], key=lambda a: int(a["attempt"]))
        summary = [
            {"attempt": a["attempt"], "status": a["status"], "outputs_sha256": a["outputs_sha256"]}
            for a in done
        ]
        results[t["name"]] = signatures.result_of(t["status"], t["outputs"], summary)
    return sha256_of(results)


async def list_workflows(
    conn: Connection,
    *,
    status: str | None,
    labels: dict[str, str] | None,
    q: str | None,
    cursor: tuple[datetime, uuid.UUID] | None,
    limit: int,
    include_tasks: bool = False,
) -> tuple[list[WorkflowSummary], tuple[datetime, uuid.UUID] | None]:
    rows = await conn.fetch(
        Q.list_workflows,
        status,
        cursor[0] if cursor else None,
        cursor[1] if cursor else None,
        labels,
        like_escaped(q) if q is not None else None,
        limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    tasks: defaultdict[uuid.UUID, list[TaskOut]] = defaultdict(list)
    if rows and include_tasks:
        for t in await conn.fetch(Q.get_tasks_of_many, [r["id"] for r in rows]):
            tasks[t["workflow_id"]].append(_task(t))
    items = [_summary(r, tasks[r["id"]] if include_tasks else None) for r in rows]
    await signatures.attach(conn, items)
    next_cursor = (rows[-1]["created_at"], rows[-1]["id"]) if more else None
    return items, next_cursor


async def get_history(
    conn: Connection, workflow_id: uuid.UUID, after: int | None = None, limit: int = 1000
) -> list[HistoryEntry]:
    """Changes of the workflow and its tasks, oldest first: at most `limit`, those after
    the entry `after`; NotFound when unknown."""
    async with conn.transaction():
        if await conn.fetchrow(Q.get_workflow, workflow_id) is None:
            raise NotFound(f"no workflow with id '{workflow_id}'")
        rows = await conn.fetch(Q.get_history, workflow_id, after, limit)
        return [HistoryEntry(**dict(r)) for r in rows]


def like_escaped(text: str) -> str:
    """`text` matched literally by LIKE ... ESCAPE '\\': its % and _ are no wildcards."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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
