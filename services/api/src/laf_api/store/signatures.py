"""Electronic signatures (21 CFR Part 11 §11.50, §11.70, §11.200) and a workflow's release.

A signature binds a person (name and full name), a meaning and the database's time to
the SHA-256 of the workflow's results as they were: every task's status and final
outputs, and every finished attempt with its outputs' hash. It is a row of the
workflow's history chain too. When the results change later (a retry), the hash no
longer matches and the signature is stale: it stays in the record, but no longer
releases the workflow.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from laf_api.errors import Forbidden, NotFound, Refused
from laf_api.schemas import SignatureOut, WorkflowSummary
from laf_core.canonical import sha256_of
from laf_core.contracts.states import FINAL_WORKFLOW_STATUSES
from laf_core.db.pool import Connection
from laf_core.db.queries import Q

APPROVE_NEEDS_REVIEW = "approve needs an earlier, current review by someone else"
NOT_YOUR_OWN = (
    "nobody approves a workflow they submitted or acted on as operator "
    "(21 CFR 11: review by a second person)"
)


def result_of(status: str, outputs: Any, attempts: list[dict[str, Any]]) -> dict[str, Any]:
    """One task's part of what a signature signs; `attempts` ordered by attempt, each
    {"attempt", "status", "outputs_sha256"}."""
    return {"status": status, "outputs": outputs, "attempts": attempts}


async def results_sha256(conn: Connection, workflow_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The hash a signature signs, per workflow."""
    results: defaultdict[uuid.UUID, dict[str, Any]] = defaultdict(dict)
    for row in await conn.fetch(Q.results_of, workflow_ids):
        results[row["workflow_id"]][row["name"]] = result_of(
            row["status"], row["outputs"], row["attempts"]
        )
    return {workflow_id: sha256_of(tasks) for workflow_id, tasks in results.items()}


def release_of(signatures: list[SignatureOut]) -> str:
    current = [s for s in signatures if not s.stale]
    if any(s.meaning == "approved" for s in current):
        return "released"
    if any(s.meaning == "reviewed" for s in current):
        return "awaiting approval"
    return "awaiting review"


async def attach(
    conn: Connection, views: Sequence[WorkflowSummary], hashes: dict[uuid.UUID, str] | None = None
) -> None:
    """Fill in each finished view's signatures, release and current results hash
    (`hashes`, when the caller has them already)."""
    finished = {v.id: v for v in views if v.status in FINAL_WORKFLOW_STATUSES}
    if not finished:
        return
    if hashes is None:
        hashes = await results_sha256(conn, list(finished))
    signed: defaultdict[uuid.UUID, list[SignatureOut]] = defaultdict(list)
    for row in await conn.fetch(Q.signatures_of, list(finished)):
        current = hashes.get(row["workflow_id"])
        fields = {k: v for k, v in row.items() if k != "workflow_id"}
        signed[row["workflow_id"]].append(
            SignatureOut(**fields, stale=row["results_sha256"] != current)
        )
    for workflow_id, view in finished.items():
        view.results_sha256 = hashes.get(workflow_id)
        view.signatures = signed[workflow_id]
        view.release = release_of(view.signatures)  # type: ignore[assignment]  # a Release


async def sign(
    conn: Connection,
    workflow_id: uuid.UUID,
    signer: str,
    meaning: str,
    comment: str | None,
) -> SignatureOut:
    """Record a signature by `signer` (whose password the caller checked just now)."""
    actor = f"user:{signer}"
    async with conn.transaction():
        status = await conn.fetchval("SELECT laf_lock_workflow($1)", workflow_id)
        if status is None:
            raise NotFound(f"no workflow with id '{workflow_id}'")
        if status not in FINAL_WORKFLOW_STATUSES:
            raise Refused(f"only a finished workflow can be signed; this one is {status}")
        current = (await results_sha256(conn, [workflow_id]))[workflow_id]
        if meaning == "approved":
            reviews = [
                r
                for r in await conn.fetch(Q.signatures_of, [workflow_id])
                if r["meaning"] == "reviewed"
                and r["signer"] != signer
                and r["results_sha256"] == current
            ]
            if not reviews:
                raise Forbidden(APPROVE_NEEDS_REVIEW)
            if await conn.fetchval(Q.signer_acted_on, workflow_id, actor):
                raise Forbidden(NOT_YOUR_OWN)
        full_name = await conn.fetchval(Q.full_name_of, signer) or signer
        signature_id = uuid.uuid4()
        data = {
            "signature_id": str(signature_id),
            "meaning": meaning,
            "full_name": full_name,
            "results_sha256": current,
            "comment": comment,
        }
        reason = meaning if not comment else f"{meaning}: {comment}"
        row = await conn.fetchrow(Q.insert_signature_history, workflow_id, actor, reason, data)
        assert row is not None  # an INSERT … RETURNING answers its row
        await conn.execute(
            Q.insert_signature,
            signature_id,
            workflow_id,
            signer,
            full_name,
            meaning,
            comment,
            current,
            row["id"],
            row["at"],
        )
    return SignatureOut(
        id=signature_id,
        signer=signer,
        full_name=full_name,
        meaning=meaning,  # type: ignore[arg-type]  # checked by SignRequest
        comment=comment,
        at=row["at"],
        results_sha256=current,
        stale=False,
    )
