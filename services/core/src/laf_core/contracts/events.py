"""The one envelope every message on `laf.events` carries (DESIGN §4)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


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


class TaskEventData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    executor: str
    status: str


class WorkflowEventData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    status: str
