"""HTTP response models: the shapes /openapi.json promises to clients."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, computed_field

from laf_core import tracing
from laf_core.contracts.numbers import WHOLE_NUMBER
from laf_core.contracts.reports import ClaimedTask
from laf_core.contracts.roles import Role
from laf_core.contracts.states import (
    ExecutorName,
    FinalTaskStatus,
    InstrumentStatus,
    ReportOutcome,
    TaskStatus,
    WorkflowStatus,
)


class AttemptOut(BaseModel):
    attempt: int
    status: FinalTaskStatus
    runner_id: str | None
    error: str | None
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime


class TaskOut(BaseModel):
    id: uuid.UUID
    name: str
    executor: ExecutorName
    instrument: str | None
    params: dict[str, Any]
    depends_on: list[str]
    status: TaskStatus
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


Release = Literal["released", "awaiting review", "awaiting approval"]
Meaning = Literal["reviewed", "approved"]


class SignatureOut(BaseModel):
    id: uuid.UUID
    signer: str
    full_name: str
    meaning: Meaning
    comment: str | None
    at: datetime = Field(description="The database's time of signing.")
    results_sha256: str = Field(description="The results the signer saw (see README, Part 11).")
    stale: bool = Field(description="The results changed after the signature (e.g. a retry).")


class SignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    meaning: Meaning
    password: str = Field(min_length=1, max_length=1024, description="Checked again at signing.")
    comment: str | None = Field(None, max_length=2000)


class BrokenAt(BaseModel):
    history_id: int | None
    workflow_id: uuid.UUID | None
    reason: str


class CheckpointOut(BaseModel):
    id: int
    at: datetime
    chains: int = Field(description="Chain heads this checkpoint signed.")


class AuditVerdict(BaseModel):
    ok: bool
    rows: int = Field(description="History rows walked.")
    legacy_rows: int | None = Field(
        None, description="Rows written before the audit chain existed (accepted as they are)."
    )
    checkpoint: CheckpointOut | None = Field(None, description="The latest signed checkpoint.")
    broken_at: BrokenAt | None = None


class BlobOut(BaseModel):
    sha256: str
    size: int
    media_type: str
    ref: str = Field(description='Put {"$blob": ref} in outputs to refer to it')


class WorkflowSummary(BaseModel):
    """A workflow as lists show it: without its tasks unless asked (`?include=tasks`)."""

    id: uuid.UUID
    name: str
    description: str
    labels: dict[str, str]
    status: WorkflowStatus
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: Progress
    tasks: list[TaskOut] | None = Field(
        default=None, description="The tasks, without their attempts: only with ?include=tasks"
    )
    requires_approval: bool = False
    release: Release = Field(
        "awaiting review",
        description="'released' while a valid (not stale) approval stands; else what it waits for.",
    )
    signatures: list[SignatureOut] = Field(default_factory=list)
    results_sha256: str | None = Field(
        None, description="The hash a signature would sign now; null until it finished."
    )

    @computed_field(  # type: ignore[prop-decorator]  # pydantic's documented form
        description="The OpenTelemetry trace of this workflow's run (derived from its id)"
    )
    @property
    def trace_id(self) -> str:
        return tracing.trace_id(self.id)


class WorkflowOut(WorkflowSummary):
    """A workflow with its tasks and their attempts."""

    tasks: list[TaskOut]


class WorkflowPage(BaseModel):
    items: list[WorkflowSummary]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class HistoryEntry(BaseModel):
    id: int
    task_id: uuid.UUID | None
    task_name: str | None
    attempt: int | None
    from_status: WorkflowStatus | TaskStatus | None
    to_status: WorkflowStatus | TaskStatus | Literal["signed"]
    actor: str
    reason: str | None
    at: datetime = Field(description="The database's clock.")
    seq: int | None = Field(
        None,
        description="Place in its chain (the task's, or the workflow's own rows); null "
        "for rows written before the audit chain existed.",
    )
    prev_hash: str | None = Field(None, description="The hash of the chain's previous row.")
    hash: str | None = Field(None, description="SHA-256 of this row's canonical content.")
    data: dict[str, Any] | None = Field(None, description="What a signature signed.")


class ReportResult(BaseModel):
    accepted: bool
    outcome: ReportOutcome


class ResultAccepted(ReportResult):
    """The answer to a `succeeded` or `failed` report."""

    next: ClaimedTask | None = Field(
        None,
        description="The runner's next task, claimed for it now (it offered `claim_next`): "
        "run it as if its claim had been answered.",
    )


class RunnerOut(BaseModel):
    id: str
    hostname: str
    executors: list[str]  # as the runner announced them
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


def _iso_date_text(value: Any) -> Any:
    """A date as JSON gives it: "YYYY-MM-DD" text only (no timestamps, no datetimes)."""
    if isinstance(value, str) and len(value) != 10:
        raise ValueError("a date is written YYYY-MM-DD")
    if value is not None and not isinstance(value, str | date):
        raise ValueError("a date is written YYYY-MM-DD")
    return value


CalendarDate = Annotated[date, BeforeValidator(_iso_date_text)]


class InstrumentIn(BaseModel):
    """An instrument of the lab, as registered by POST /api/instruments."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=100)
    capacity: Annotated[int, Field(ge=1, le=1000), WHOLE_NUMBER] = 1
    status: InstrumentStatus = "online"
    endpoint: str | None = Field(None, max_length=2000)
    parameters_schema: dict[str, Any] = Field(
        default_factory=dict, description="JSON Schema of the params a task on it accepts"
    )
    calibration_due: CalendarDate | None = Field(None, description="When its calibration falls due")


class InstrumentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    capacity: Annotated[int, Field(ge=1, le=1000), WHOLE_NUMBER] | None = None
    status: InstrumentStatus | None = None
    endpoint: str | None = Field(None, max_length=2000)
    parameters_schema: dict[str, Any] | None = None
    calibration_due: CalendarDate | None = Field(
        None, description="When its calibration falls due; null clears it"
    )
    reason: str | None = Field(None, max_length=2000)


class InstrumentTask(BaseModel):
    workflow_id: uuid.UUID
    workflow_name: str
    workflow_status: WorkflowStatus
    task_id: uuid.UUID
    task_name: str
    executor: ExecutorName
    status: TaskStatus
    attempt: int
    ready_at: datetime | None
    queued_at: datetime | None
    started_at: datetime | None


class DeadLetter(BaseModel):
    id: int
    message_id: str | None
    routing_key: str | None
    queue: str | None
    reason: str | None
    headers: dict[str, str]
    body: str
    received_at: datetime


class ServiceReadiness(BaseModel):
    name: str = Field(description="`api`, or a name from LAF_API_SERVICE_PROBES")
    url: str = Field(description="The /readyz asked (the API's own: its path)")
    ready: bool
    detail: str = Field(description="Why not, in a few words; `ready` when it is")


class OutboxState(BaseModel):
    backlog: int = Field(description="Events written but not yet relayed to the broker")
    oldest_age_s: float = Field(description="Age of the oldest of them, 0 when none wait")


class DeadLetterState(BaseModel):
    count: int
    latest_at: datetime | None = Field(description="When the newest came; null when none")


class SystemOut(BaseModel):
    """What the web app's System page shows."""

    services: list[ServiceReadiness]
    outbox: OutboxState
    dead_letters: DeadLetterState
    trace_url_template: str = Field(
        description="LAF_TRACE_URL_TEMPLATE: a trace viewer's URL with `{trace_id}`; empty: none"
    )


class InstrumentOut(BaseModel):
    id: str
    name: str
    kind: str
    capacity: int
    status: InstrumentStatus
    endpoint: str | None
    parameters_schema: dict[str, Any]
    calibration_due: CalendarDate | None = Field(None, description="When its calibration falls due")
    created_at: datetime
    updated_at: datetime
    current: list[InstrumentTask] = Field(
        description="Tasks holding a slot now (queued or running)"
    )
    queue: list[InstrumentTask] = Field(description="Tasks waiting for a slot, first in line first")


class InstrumentRun(BaseModel):
    """One attempt of a task on an instrument: finished (from its attempts) or running now."""

    workflow_id: uuid.UUID
    workflow_name: str
    task_name: str
    attempt: int
    status: TaskStatus
    runner_id: str | None
    started_at: datetime | None
    finished_at: datetime | None = Field(description="Null while it runs")


class InstrumentRuns(BaseModel):
    """An instrument's recent runs and how busy it was over the last `hours`."""

    instrument_id: str
    hours: float
    since: datetime
    capacity: int
    busy_s: float = Field(description="Seconds its slots were in use within the window")
    utilisation: float = Field(
        description="busy_s over (hours x capacity), 0 to 1; capacity as it is now"
    )
    runs: list[InstrumentRun] = Field(description="Newest first; running ones first of all")


class InboxItem(BaseModel):
    """A step awaiting an operator: a `manual` task running, with what to do."""

    workflow_id: uuid.UUID
    workflow_name: str
    workflow_status: WorkflowStatus
    labels: dict[str, str]
    created_by: str
    task_id: uuid.UUID
    task_name: str
    attempt: int
    params: dict[str, Any] = Field(
        description="The task's params: `instructions` (text) and, where given, "
        "`outputs_schema` (a JSON Schema of the outputs to enter)"
    )
    since: datetime | None = Field(description="When it began awaiting the operator")


class InstrumentChange(BaseModel):
    """One change of an instrument, from the audit trail."""

    id: int
    from_status: InstrumentStatus | None
    to_status: InstrumentStatus
    change: dict[str, list[Any]] = Field(description="Each changed field: [before, after]")
    actor: str
    reason: str | None
    at: datetime


# --- who may do what -------------------------------------------------------------

UserName = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$",
        description="Lower-case letters, digits, '.', '_' and '-'; at most 64",
    ),
]
Password = Annotated[str, Field(min_length=12, max_length=256)]


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


class Me(BaseModel):
    name: str
    roles: list[Role]
    open_mode: bool = Field(
        default=False, description="LAF_AUTH=off: no authentication at all (development only)"
    )
    trace_url_template: str = Field(
        default="",
        description="Where the web app links a workflow's trace (LAF_TRACE_URL_TEMPLATE, with "
        "`{trace_id}`); empty: no link",
    )


class LoginAnswer(BaseModel):
    token: str = Field(description="A session token: send it as Authorization: Bearer")
    expires_at: datetime
    user: Me


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, description="What the token is for")
    roles: list[Role] | None = Field(
        default=None, description="At most the caller's roles (default: the caller's)"
    )
    expires_in_s: Annotated[int, Field(ge=60, le=10 * 365 * 86400), WHOLE_NUMBER] | None = Field(
        default=None, description="Default: until revoked"
    )
    user: UserName | None = Field(
        default=None, description="Make it for another user (admin only; e.g. a runner account)"
    )


class TokenOut(BaseModel):
    id: uuid.UUID
    name: str
    owner: str
    kind: Literal["session", "api"]
    roles: list[Role]
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


class NewToken(TokenOut):
    token: str = Field(description="The secret: shown once, stored only as a digest")


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: UserName
    password: Password | None = Field(
        default=None, description="None: a service account, for tokens only (e.g. runners)"
    )
    roles: list[Role] = Field(min_length=1)
    full_name: str = Field("", max_length=200, description="Shown with their signatures")


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roles: list[Role] | None = Field(default=None, min_length=1)
    disabled: bool | None = None
    password: Password | None = None
    full_name: str | None = Field(None, max_length=200)


class UserOut(BaseModel):
    name: str
    full_name: str = ""
    roles: list[Role]
    disabled: bool
    locked_until: datetime | None
    created_by: str
    created_at: datetime
