"""What runners (and later Job pods) report to `POST /api/webhooks/tasks`."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from laf_core.contracts.numbers import WHOLE_NUMBER


class _Report(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task_id: uuid.UUID
    attempt: Annotated[int, Field(ge=1, le=2**31 - 1), WHOLE_NUMBER]
    runner_id: str = Field("unknown", max_length=200)


class StartedReport(_Report):
    """Claims a queued attempt; accepted once, 409 after (the runner holding it gets the
    same answer again: its first can be lost after the commit)."""

    type: Literal["started"]


class HeartbeatReport(_Report):
    type: Literal["heartbeat"]


_OUTPUTS_SHA256 = Field(
    None,
    pattern="^[0-9a-f]{64}$",
    description="SHA-256 of the outputs' canonical JSON (laf_core.canonical); a report "
    "whose outputs do not match it is refused.",
)


class SucceededReport(_Report):
    type: Literal["succeeded"]
    outputs: dict[str, Any] = Field(default_factory=dict)
    outputs_sha256: str | None = _OUTPUTS_SHA256
    claim_next: list[str] = Field(
        default_factory=list,
        max_length=16,
        description="Executors the runner serves and has a slot for now: the answer may "
        "carry its next task of this workflow, claimed for it (`next`).",
    )


class FailedReport(_Report):
    type: Literal["failed"]
    error: str = Field(min_length=1, max_length=20_000)
    outputs: dict[str, Any] | None = None
    outputs_sha256: str | None = _OUTPUTS_SHA256


TaskReport = Annotated[
    StartedReport | HeartbeatReport | SucceededReport | FailedReport,
    Field(discriminator="type"),
]


class InstrumentRef(BaseModel):
    """The instrument a claimed task runs on, as the registry knows it."""

    id: str
    kind: str
    endpoint: str | None = None
    status: str = "online"


class ClaimedTask(BaseModel):
    """The API's answer to an accepted `started` report: all a runner needs."""

    task_id: uuid.UUID
    workflow_id: uuid.UUID
    name: str
    executor: str
    attempt: int
    params: dict[str, Any]
    timeout_s: float | None
    inputs: dict[str, Any]
    instrument: InstrumentRef | None = None


class RunnerHeartbeat(BaseModel):
    """A runner announces itself and the executors it serves."""

    model_config = ConfigDict(extra="forbid")

    runner_id: str = Field(min_length=1, max_length=200)
    executors: list[str]
    hostname: str = ""
    concurrency: Annotated[int, Field(ge=0, le=1_000_000), WHOLE_NUMBER] = 0
    running: Annotated[int, Field(ge=0, le=1_000_000), WHOLE_NUMBER] = 0
