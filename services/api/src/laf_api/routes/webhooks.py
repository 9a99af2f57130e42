"""Signed reports from runners: claim (started), heartbeat, result; runner presence."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import TypeAdapter, ValidationError

from laf_api.auth import Needs, Viewer, principal
from laf_api.deps import AppMetrics, Pool, ReportPool, Settings
from laf_api.errors import Refused
from laf_api.schemas import ReportResult, ResultAccepted, RunnerOut
from laf_api.store import reports
from laf_core import signing, task_tokens
from laf_core.contracts.reports import (
    ClaimedTask,
    HeartbeatReport,
    RunnerHeartbeat,
    StartedReport,
    TaskReport,
)
from laf_core.credentials import TOKEN_PREFIX, bearer

router = APIRouter(tags=["webhooks"])
_reports: TypeAdapter[TaskReport] = TypeAdapter(TaskReport)
# The report body is read raw (the signature covers its bytes), so its schema is
# documented by hand: the union here, its members in components (see app.py).
REPORT_SCHEMA = _reports.json_schema(ref_template="#/components/schemas/{model}")
REPORT_COMPONENTS: dict[str, Any] = REPORT_SCHEMA.pop("$defs")

_SIGNED: dict[int | str, dict[str, Any]] = {
    401: {
        "description": "No runner token (or task token), or the signature is missing, wrong, "
        "replayed or outside the replay window"
    },
    403: {"description": "The credential is not a runner's"},
    409: {"description": "The report does not match the task's current attempt; nothing changed"},
    413: {"description": "The body, or the attempt's outputs, are over their limit"},
}


async def _runner_body(request: Request, secret: str, window_s: int) -> bytes:
    """The body of a runner's call: its runner token (role `runner`) and a valid signature."""
    await _RUNNER(await principal(request))
    return await _verified_body(request, secret, window_s)


_RUNNER = Needs("runner")


async def _verified_body(request: Request, secret: str, window_s: int) -> bytes:
    """The body (its size already bounded by the request guard), signed for this method and
    path within the window, and not seen before."""
    body = await request.body()
    try:
        given = signing.verify(
            secret, request.headers, request.method, request.url.path, body, window_s
        )
    except signing.SignatureError as exc:
        raise HTTPException(401, f"invalid signature: {exc}") from None
    replays: signing.ReplayCache = request.app.state.replays
    if not replays.first_use(given):
        raise HTTPException(401, "invalid signature: this signature was used before (a replay)")
    return body


def _check_outputs(report: TaskReport, limit: int) -> None:
    outputs = getattr(report, "outputs", None)
    if outputs and len(json.dumps(outputs, separators=(",", ":"))) > limit:
        raise HTTPException(
            413,
            f"outputs of attempt {report.attempt} are larger than {limit} bytes "
            "(LAF_API_MAX_OUTPUTS_BYTES); store large data elsewhere and report a reference",
        )


def _invalid(exc: ValidationError) -> HTTPException:
    return HTTPException(
        422, [{"loc": e["loc"], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    )


@router.post(
    "/api/webhooks/tasks",
    response_model=ClaimedTask | ResultAccepted | ReportResult,
    responses=_SIGNED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": REPORT_SCHEMA}},
        }
    },
)
async def task_report(
    request: Request, pool: ReportPool, settings: Settings, metrics: AppMetrics
) -> ClaimedTask | ResultAccepted | ReportResult:
    """Reports about one attempt, signed with HMAC-SHA256 over
    `timestamp.nonce.METHOD.path.body` (laf_core.signing).

    `started` claims a queued attempt (accepted once; 409 after, except to the
    runner holding it, which gets the same answer again) and answers with the
    task and its inputs; `succeeded` / `failed` record the result and
    queue the dependents in the same transaction; `heartbeat` keeps a running
    attempt alive.

    A runner sends its runner token (`Authorization: Bearer laf_…`, role
    `runner`) and signs the body. A Kubernetes Job's pod may report its own
    attempt instead, with the per-attempt token it was given (`Authorization:
    Bearer <LAF_TASK_TOKEN>`) in place of both; it cannot claim (`started`)
    nor speak for another attempt.
    """
    secret = request.app.state.signing_secret
    token = bearer(request.headers.get("Authorization"))
    if token is None or token.startswith(TOKEN_PREFIX):
        token = None  # a runner's call, not a pod's
        body = await _runner_body(request, secret, settings.signature_window_s)
    else:
        body = await request.body()
    try:
        report = _reports.validate_json(body)
    except ValidationError as exc:
        raise _invalid(exc) from None
    _check_outputs(report, settings.max_outputs_bytes)
    if token is not None:
        if not task_tokens.token_matches(secret, report.task_id, report.attempt, token):
            raise HTTPException(401, "invalid task token for this task and attempt")
        if isinstance(report, StartedReport):
            raise HTTPException(403, "a task token reports on its attempt; it cannot claim one")
    actor = (
        f"pod:{report.task_id}/{report.attempt}"
        if token is not None
        else f"runner:{report.runner_id}"
    )

    try:
        async with pool.acquire() as conn:
            if isinstance(report, StartedReport):
                claimed = await reports.claim(conn, report)
                metrics.inc("tasks_claimed")
                return claimed
            if isinstance(report, HeartbeatReport):
                return await reports.heartbeat(conn, report)
            result = await reports.finish(conn, report, actor)
            metrics.inc(f"results_{result.outcome}")
            return result
    except Refused:
        metrics.inc("reports_refused")
        raise


@router.post("/api/webhooks/runners", status_code=204, responses=_SIGNED)
async def runner_heartbeat(request: Request, pool: ReportPool, settings: Settings) -> None:
    """A runner announces itself and the executors it serves (a runner token, signed like
    task reports)."""
    body = await _runner_body(
        request, request.app.state.signing_secret, settings.signature_window_s
    )
    try:
        beat = RunnerHeartbeat.model_validate_json(body)
    except ValidationError as exc:
        raise _invalid(exc) from None
    async with pool.acquire() as conn:
        await reports.announce_runner(conn, beat)


@router.get("/api/runners", response_model=list[RunnerOut], tags=["runners"])
async def list_runners(_: Viewer, pool: Pool) -> list[RunnerOut]:
    """Runners that have announced themselves; `alive` if heard from in the last 30 s."""
    async with pool.acquire() as conn:
        return await reports.runners(conn, alive_within_s=30.0)
