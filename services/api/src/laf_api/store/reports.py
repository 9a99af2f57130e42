"""Runner reports about an attempt (claim, heartbeat, result) and runner presence.

Each report is one guarded transition; one that no longer applies (a duplicate, a late
report, a claim of a taken attempt) raises Refused, saying what the task is now.
"""

from __future__ import annotations

from laf_api.errors import Refused, Unacceptable
from laf_api.schemas import ReportResult, ResultAccepted, RunnerOut
from laf_core import blobs, logs, telemetry
from laf_core.canonical import sha256_of
from laf_core.contracts.reports import (
    ClaimedTask,
    FailedReport,
    HeartbeatReport,
    RunnerHeartbeat,
    StartedReport,
    SucceededReport,
)
from laf_core.db.pool import Connection
from laf_core.db.queries import Q

TaskReportModel = StartedReport | HeartbeatReport | SucceededReport | FailedReport


async def claim(conn: Connection, report: StartedReport) -> ClaimedTask:
    """The queued attempt, now running on the reporting runner, with its inputs."""
    row = await conn.fetchrow(Q.claim_task, report.task_id, report.attempt, report.runner_id)
    if row is None:
        raise await _refusal(conn, report)
    telemetry.annotate(
        workflow_id=row["workflow_id"], task=row["name"], attempt=row["attempt"],
        executor=row["executor"], outcome="claimed",
    )  # fmt: skip
    logs.about(row["workflow_id"], row["name"], row["attempt"])
    return ClaimedTask(**dict(row))


async def heartbeat(conn: Connection, report: HeartbeatReport) -> ReportResult:
    if not await conn.fetchval(Q.heartbeat_task, report.task_id, report.attempt):
        raise await _refusal(conn, report)
    return ReportResult(accepted=True, outcome="running")


async def finish(
    conn: Connection, report: SucceededReport | FailedReport, actor: str
) -> ResultAccepted:
    """Record the result; in the same transaction the dependents whose last dependency this
    was are queued, a retry scheduled, or the downstream skipped (`laf_finish_task`).
    The outputs are kept with their SHA-256 and who reported them; a report whose
    outputs do not match the hash it declares is refused for good (422)."""
    outputs_sha256 = None if report.outputs is None else sha256_of(report.outputs)
    if report.outputs_sha256 is not None and report.outputs_sha256 != outputs_sha256:
        raise Unacceptable(
            "the outputs do not match their declared outputs_sha256: "
            "they changed on the way, or were hashed otherwise than laf_core.canonical"
        )
    named = blobs.referenced(report.outputs)
    if named:
        stored = await conn.fetchval(
            "SELECT count(*) FROM blobs WHERE sha256 = ANY($1::text[])", list(named)
        )
        if stored != len(named):
            raise Unacceptable("the outputs refer to data ($blob) that was not stored first")
    offered = report.claim_next if isinstance(report, SucceededReport) else []
    with telemetry.tracer().start_as_current_span(
        "laf.result",
        attributes={"laf.task_id": str(report.task_id), "laf.attempt": report.attempt},
    ):
        await telemetry.stamp(conn)  # the dependents it queues are children of this span
        row = await conn.fetchrow(
            Q.finish_and_claim,
            report.task_id,
            report.attempt,
            report.type,
            report.outputs,
            report.error if isinstance(report, FailedReport) else None,
            actor,
            outputs_sha256,
            offered if actor.startswith("runner:") else [],  # a pod runs only its own attempt
            report.runner_id,
        )
        assert row is not None  # a function call answers one row
        telemetry.annotate(outcome=row["outcome"], handed_on=row["next"] is not None)
    if row["outcome"] == "stale":
        raise await _refusal(conn, report)
    claimed = None if row["next"] is None else ClaimedTask.model_validate(row["next"])
    return ResultAccepted(accepted=True, outcome=row["outcome"], next=claimed)


async def _refusal(conn: Connection, report: TaskReportModel) -> Refused:
    state = await conn.fetchrow(Q.task_state, report.task_id)
    if state is None:
        return Refused(f"no task with id '{report.task_id}'")
    return Refused(
        f"'{report.type}' for attempt {report.attempt} refused: the task is "
        f"{state['status']} at attempt {state['attempt']}"
    )


async def announce_runner(conn: Connection, beat: RunnerHeartbeat) -> None:
    await conn.execute(
        Q.upsert_runner,
        beat.runner_id,
        beat.hostname,
        beat.executors,
        beat.concurrency,
        beat.running,
    )


async def runners(conn: Connection, alive_within_s: float) -> list[RunnerOut]:
    return [RunnerOut(**dict(r)) for r in await conn.fetch(Q.list_runners, alive_within_s)]
