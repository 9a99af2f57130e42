"""A workflow's record, exported: one self-contained JSON document that an offline script
(scripts/verify-record.py, no LAF needed) verifies, and the same as a printable batch
record (PDF, laf_api.record_pdf) whose footer carries the record's hash."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from laf_api.errors import NotFound
from laf_api.store.workflows import get_workflow
from laf_core.canonical import sha256_of
from laf_core.db.pool import Connection

FORMAT = "laf-record/1"

_HISTORY = """
    SELECT id, seq, prev_hash, hash, workflow_id, task_id, task_name, attempt, from_status,
           to_status, actor, reason, at, (extract(epoch FROM at) * 1000000)::bigint AS at_us,
           instrument_id, change, data
    FROM history WHERE workflow_id = $1 ORDER BY id"""
_ATTEMPTS = """
    SELECT t.name, a.attempt, a.status, a.runner_id, a.reported_by, a.error, a.queued_at,
           a.started_at, a.finished_at, a.outputs, a.outputs_sha256
    FROM task_attempts a JOIN tasks t ON t.id = a.task_id
    WHERE t.workflow_id = $1 ORDER BY t.position, a.attempt"""


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


async def build(conn: Connection, workflow_id: uuid.UUID) -> dict[str, Any]:
    """The record as one JSON-ready dict, its `record_sha256` over all the rest: the
    same state exports to the same bytes, so the PDF's footer names the JSON's hash."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        view = await get_workflow(conn, workflow_id)
        document = await conn.fetchrow(
            "SELECT document, document_sha256 FROM workflows WHERE id = $1", workflow_id
        )
        if document is None:
            raise NotFound(f"no workflow with id '{workflow_id}'")
        history = await conn.fetch(_HISTORY, workflow_id)
        attempts = await conn.fetch(_ATTEMPTS, workflow_id)
    by_task: dict[str, list[dict[str, Any]]] = {}
    for a in attempts:
        by_task.setdefault(a["name"], []).append({k: _json(v) for k, v in a.items() if k != "name"})
    record: dict[str, Any] = {
        "format": FORMAT,
        "workflow": {
            "id": str(view.id),
            "name": view.name,
            "description": view.description,
            "labels": view.labels,
            "status": view.status,
            "created_by": view.created_by,
            "created_at": _json(view.created_at),
            "started_at": _json(view.started_at),
            "finished_at": _json(view.finished_at),
            "requires_approval": view.requires_approval,
            "release": view.release,
        },
        "document": document["document"],
        "document_sha256": document["document_sha256"],
        "tasks": [
            {
                "name": t.name,
                "executor": t.executor,
                "instrument": t.instrument,
                "status": t.status,
                "outputs": t.outputs,
                "attempts": by_task.get(t.name, []),
            }
            for t in view.tasks
        ],
        "results_sha256": view.results_sha256,
        "signatures": [s.model_dump(mode="json") for s in view.signatures],
        "history": [{k: _json(v) for k, v in h.items()} for h in history],
    }
    record["record_sha256"] = sha256_of(record)
    return record


def exported_name(record: dict[str, Any], suffix: str) -> str:
    return f"laf-record-{record['workflow']['id']}.{suffix}"
