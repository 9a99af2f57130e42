"""The one envelope every message on `laf.events` carries (DESIGN §4)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from laf_core.contracts.states import ExecutorName, InstrumentStatus, TaskStatus, WorkflowStatus


class Envelope(BaseModel):
    """`type` equals the routing key's first two parts (`task.queued`, `workflow.pending`)."""

    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    type: str
    occurred_at: datetime
    workflow_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = None
    attempt: int | None = None
    data: dict[str, Any] = {}


# What `data` holds, per kind of event (written by the outbox functions, outbox.sql).
class WorkflowEventData(BaseModel):
    """`workflow.<status>`: the workflow as it is now."""

    name: str
    status: WorkflowStatus


class TaskEventData(BaseModel):
    """`task.<status>.<executor>`: the task as it is now; `retry_at` when a failed
    attempt waits for its retry; `instrument` when it runs on one."""

    name: str
    executor: ExecutorName
    status: TaskStatus
    retry_at: datetime | None = None
    instrument: str | None = None


class InstrumentEventData(BaseModel):
    """`instrument.<status>`: an instrument's status or capacity changed."""

    id: str
    name: str
    status: InstrumentStatus
    capacity: int
