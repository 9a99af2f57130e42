"""HTTP response models: the shapes /openapi.json promises to clients."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class AttemptOut(BaseModel):
    attempt: int
    status: str
    runner_id: str | None
    error: str | None
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime


class TaskOut(BaseModel):
    id: uuid.UUID
    name: str
    executor: str
    instrument: str | None
    params: dict[str, Any]
    depends_on: list[str]
    status: str
    attempt: int = Field(description="The current (or last) attempt; 0 before the first.")
    max_attempts: int
    timeout_s: float | None
    retry_at: datetime | None
    outputs: dict[str, Any] | None
    error: str | None
    runner_id: str | None
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    attempts: list[AttemptOut] = Field(default_factory=list, description="Finished attempts.")


class Progress(BaseModel):
    total: int
    unfinished: int
    failed: int


class WorkflowOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    labels: dict[str, str]
    status: str
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: Progress
    tasks: list[TaskOut]


class WorkflowPage(BaseModel):
    items: list[WorkflowOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class HistoryEntry(BaseModel):
    id: int
    task_id: uuid.UUID | None
    task_name: str | None
    attempt: int | None
    from_status: str | None
    to_status: str
    actor: str
    reason: str | None
    at: datetime


class ReportResult(BaseModel):
    accepted: bool
    outcome: str


class RunnerOut(BaseModel):
    id: str
    hostname: str
    executors: list[str]
    concurrency: int
    running: int
    started_at: datetime
    heartbeat_at: datetime
    alive: bool


class ActionRequest(BaseModel):
    """An operator action on a workflow; the reason goes into the audit trail."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=2000)


class ReasonRequired(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000, description="Why: kept in the audit trail")


class CompleteRequest(ReasonRequired):
    outputs: dict[str, Any] = Field(default_factory=dict, description="The step's results")


InstrumentStatus = Literal["online", "offline", "maintenance"]


class InstrumentIn(BaseModel):
    """An instrument of the lab, as registered by POST /api/instruments."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=100)
    capacity: int = Field(1, ge=1, le=1000)
    status: InstrumentStatus = "online"
    endpoint: str | None = Field(None, max_length=2000)
    parameters_schema: dict[str, Any] = Field(
        default_factory=dict, description="JSON Schema of the params a task on it accepts"
    )


class InstrumentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    capacity: int | None = Field(None, ge=1, le=1000)
    status: InstrumentStatus | None = None
    endpoint: str | None = Field(None, max_length=2000)
    parameters_schema: dict[str, Any] | None = None
    reason: str | None = Field(None, max_length=2000)


class InstrumentTask(BaseModel):
    workflow_id: uuid.UUID
    workflow_name: str
    workflow_status: str
    task_id: uuid.UUID
    task_name: str
    executor: str
    status: str
    attempt: int
    ready_at: datetime | None
    queued_at: datetime | None
    started_at: datetime | None


class InstrumentOut(BaseModel):
    id: str
    name: str
    kind: str
    capacity: int
    status: str
    endpoint: str | None
    parameters_schema: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    current: list[InstrumentTask] = Field(
        description="Tasks holding a slot now (queued or running)"
    )
    queue: list[InstrumentTask] = Field(description="Tasks waiting for a slot, first in line first")
