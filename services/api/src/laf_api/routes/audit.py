"""The audit record: electronic signatures, chain verification, the exported record."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status

from laf_api import audit, record
from laf_api.auth import Admin, Reviewer, Viewer
from laf_api.deps import Pool, Settings
from laf_api.routes.workflows import parse_id
from laf_api.schemas import AuditVerdict, SignatureOut, SignRequest
from laf_api.store import auth as users
from laf_api.store import signatures
from laf_core.canonical import canonical_json

router = APIRouter(tags=["audit"])

_SIGN_ANSWERS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Wrong password (it counts towards the lock-out)"},
    403: {"description": "Not a reviewer, or a signature rule forbids it (the detail names it)"},
    404: {"description": "No such workflow"},
    409: {"description": "The workflow has not finished"},
    429: {"description": "Too many failed passwords: the account is locked for a while"},
}


@router.post(
    "/api/workflows/{workflow_id}/signatures",
    status_code=status.HTTP_201_CREATED,
    response_model=SignatureOut,
    responses=_SIGN_ANSWERS,
)
async def sign(
    workflow_id: str, body: SignRequest, caller: Reviewer, pool: Pool, settings: Settings
) -> SignatureOut:
    """Sign a finished workflow's results as `reviewed` or `approved`, giving the password
    again (two components at signing, §11.200). An approval needs an earlier review by
    someone else, and nobody approves what they submitted or acted on as operator."""
    wf = parse_id(workflow_id)
    async with pool.acquire() as conn:
        try:
            await users.login(
                conn,
                caller.name,
                body.password,
                settings.login_max_failures,
                settings.login_lockout_s,
            )
        except users.LoginLocked as exc:
            wait = max(1, int((exc.until - datetime.now(UTC)).total_seconds()))
            raise HTTPException(429, str(exc), headers={"Retry-After": str(wait)}) from None
        except users.LoginRefused:
            raise HTTPException(401, "wrong password: the signature was not recorded") from None
        return await signatures.sign(conn, wf, caller.name, body.meaning, body.comment)


@router.get("/api/audit/verify", response_model=AuditVerdict)
async def verify(
    request: Request,
    _: Admin,
    pool: Pool,
    workflow_id: Annotated[
        uuid.UUID | None, Query(description="Only this workflow's chains")
    ] = None,
) -> AuditVerdict:
    """Walk the hash chains (all, or one workflow's) and the signed checkpoints: `ok` and
    how many rows were proven, or the first break found and why."""
    wf = workflow_id
    key = audit.checkpoint_key(request.app.state.signing_secret)
    async with pool.acquire() as conn:
        return AuditVerdict.model_validate(await audit.verify(conn, key, wf))


@router.get(
    "/api/workflows/{workflow_id}/record",
    responses={
        200: {
            "description": "The record as JSON, or with `Accept: application/pdf` as a batch record",
            "content": {"application/pdf": {}},
        },
        404: {"description": "No such workflow"},
    },
)
async def export_record(workflow_id: str, request: Request, _: Viewer, pool: Pool) -> Response:
    """One self-contained document: the workflow document and its hash, tasks, attempts
    with their outputs' hashes, the hash-chained history, signatures and `record_sha256`.
    scripts/verify-record.py checks it without LAF."""
    wf = parse_id(workflow_id)
    async with pool.acquire() as conn:
        built = await record.build(conn, wf)
    if "application/pdf" in request.headers.get("Accept", ""):
        from laf_api import record_pdf  # heavy, and only for PDFs: imported when asked

        return Response(
            await asyncio.to_thread(record_pdf.pdf, built),  # CPU work off the event loop
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="{record.exported_name(built, "pdf")}"'
            },
        )
    return Response(
        canonical_json(built),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{record.exported_name(built, "json")}"'
        },
    )
