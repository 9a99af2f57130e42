"""HTTP response models: the shapes /openapi.json promises to clients."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


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
