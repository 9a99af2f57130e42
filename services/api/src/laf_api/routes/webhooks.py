"""Signed reports from runners: claim (started), heartbeat, result; runner presence."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import TypeAdapter, ValidationError

from laf_api.deps import AppMetrics, Common, Pool, Settings
from laf_api.schemas import ReportResult, RunnerOut
from laf_core import signing, task_tokens
from laf_core.contracts.reports import (
    ClaimedTask,
    FailedReport,
    HeartbeatReport,
    RunnerHeartbeat,
    StartedReport,
    TaskReport,
)
from laf_core.db.queries import Q

router = APIRouter(tags=["webhooks"])
_reports: TypeAdapter[TaskReport] = TypeAdapter(TaskReport)
# The report body is read raw (the signature covers its bytes), so its schema is
# documented by hand: the union here, its members in components (see app.py).
REPORT_SCHEMA = _reports.json_schema(ref_template="#/components/schemas/{model}")
REPORT_COMPONENTS: dict[str, Any] = REPORT_SCHEMA.pop("$defs")

_SIGNED = {
    401: {"description": "Signature (or task token) missing, wrong or outside the replay window"},
    409: {"description": "The report does not match the task's current attempt; nothing changed"},
    422: {"description": "Malformed report"},
}


async def _verified_body(request: Request, secret: str, window_s: int) -> bytes:
    body = await request.body()
    try:
        signing.verify(
            secret,
            request.headers.get(signing.TIMESTAMP_HEADER),
            request.headers.get(signing.SIGNATURE_HEADER),
            body,
            window_s,
        )
    except signing.SignatureError as exc:
        raise HTTPException(401, f"invalid signature: {exc}") from None
    return body


def _invalid(exc: ValidationError) -> HTTPException:
    return HTTPException(
        422, [{"loc": e["loc"], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    )


@router.post(
    "/api/webhooks/tasks",
    response_model=ClaimedTask | ReportResult,
    responses=_SIGNED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": REPORT_SCHEMA}},
        }
    },
)
async def task_report(
    request: Request, pool: Pool, common: Common, settings: Settings, metrics: AppMetrics
) -> ClaimedTask | ReportResult:
    """Reports about one attempt, signed with HMAC-SHA256 over `timestamp.body`.

    `started` claims a queued attempt (accepted once; 409 after) and answers
    with the task and its inputs; `succeeded` / `failed` record the result and
    queue the dependents in the same transaction; `heartbeat` keeps a running
    attempt alive.

    A Kubernetes Job's pod may report its own attempt instead, with the
    per-attempt token it was given (`Authorization: Bearer <LAF_TASK_TOKEN>`)
    in place of the signature; it cannot claim (`started`) nor speak for
    another attempt.
    """
    token = task_tokens.bearer(request.headers.get("Authorization"))
    if token is None:
        body = await _verified_body(request, common.webhook_secret, settings.signature_window_s)
    else:
        body = await request.body()
    try:
        report = _reports.validate_json(body)
    except ValidationError as exc:
        raise _invalid(exc) from None
    if token is not None:
        if not task_tokens.token_matches(
            common.webhook_secret, report.task_id, report.attempt, token
        ):
            raise HTTPException(401, "invalid task token for this task and attempt")
        if isinstance(report, StartedReport):
            raise HTTPException(403, "a task token reports on its attempt; it cannot claim one")
    actor = f"pod:{report.runner_id}" if token is not None else f"runner:{report.runner_id}"

    async with pool.acquire() as conn:
        if isinstance(report, StartedReport):
            row = await conn.fetchrow(
                Q.claim_task, report.task_id, report.attempt, report.runner_id
            )
            if row is not None:
                metrics.inc("tasks_claimed")
                return ClaimedTask(**dict(row))
        elif isinstance(report, HeartbeatReport):
            if await conn.fetchval(Q.heartbeat_task, report.task_id, report.attempt):
                return ReportResult(accepted=True, outcome="running")
        else:
            is_failure = isinstance(report, FailedReport)
            outcome = await conn.fetchval(
                Q.finish_task,
                report.task_id,
                report.attempt,
                report.type,
                report.outputs,
                report.error if is_failure else None,
                actor,
            )
            if outcome != "stale":
                metrics.inc(f"results_{outcome}")
                return ReportResult(accepted=True, outcome=outcome)
        state = await conn.fetchrow(Q.task_state, report.task_id)
    metrics.inc("reports_refused")
    if state is None:
        raise HTTPException(409, f"no task with id '{report.task_id}'")
    raise HTTPException(
        409,
        f"'{report.type}' for attempt {report.attempt} refused: the task is "
        f"{state['status']} at attempt {state['attempt']}",
    )


@router.post("/api/webhooks/runners", status_code=204, responses=_SIGNED)
async def runner_heartbeat(
    request: Request, pool: Pool, common: Common, settings: Settings
) -> None:
    """A runner announces itself and the executors it serves (signed like task reports)."""
    body = await _verified_body(request, common.webhook_secret, settings.signature_window_s)
    try:
        beat = RunnerHeartbeat.model_validate_json(body)
    except ValidationError as exc:
        raise _invalid(exc) from None
    await pool.execute(
        Q.upsert_runner,
        beat.runner_id,
        beat.hostname,
        beat.executors,
        beat.concurrency,
        beat.running,
    )


@router.get("/api/runners", response_model=list[RunnerOut], tags=["runners"])
async def list_runners(pool: Pool) -> list[RunnerOut]:
    """Runners that have announced themselves; `alive` if heard from in the last 30 s."""
    return [RunnerOut(**dict(r)) for r in await pool.fetch(Q.list_runners, 30.0)]
