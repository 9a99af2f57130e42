"""The System page's answer: is every service ready, is anything piling up."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from laf_api.auth import Operator
from laf_api.deps import Pool, Settings
from laf_api.readiness import database_problem, probe_all
from laf_api.schemas import ServiceReadiness, SystemOut
from laf_api.store import admin

router = APIRouter(prefix="/api/system", tags=["system"])


@router.get("", response_model=SystemOut)
async def system(_: Operator, request: Request, pool: Pool, settings: Settings) -> SystemOut:
    """The API's readiness (its database, as /readyz) and each worker's (the /readyz of
    those LAF_API_SERVICE_PROBES names, asked at once with LAF_API_PROBE_TIMEOUT_S: a
    worker that is down is `ready: false` with the reason, never an error), the outbox's
    backlog, the dead letters, and the trace viewer's URL template. Operators and admins:
    it says where to look when something is stuck."""
    workers = asyncio.create_task(probe_all(settings.service_probes, settings.probe_timeout_s))
    try:
        problem = await database_problem(request.app.state.pool)
        api = ServiceReadiness(
            name="api", url="/readyz", ready=problem is None, detail=problem or "ready"
        )
        async with pool.acquire() as conn:
            outbox = await admin.outbox_state(conn)
            dead_letters = await admin.dead_letter_state(conn)
    finally:
        services = await workers  # awaited even when the database failed: no stray task
    return SystemOut(
        services=[api, *services],
        outbox=outbox,
        dead_letters=dead_letters,
        trace_url_template=settings.trace_url_template,
    )
