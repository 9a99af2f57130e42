"""Large raw data (a chromatogram's points, a log), stored once by its SHA-256 and
referenced from outputs as {"$blob": "sha256:<hex>"}: the record stays small and the
data cannot change under its hash."""

from __future__ import annotations

import hashlib
import re
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response, status

from laf_api.auth import Viewer, principal
from laf_api.deps import Pool, Settings
from laf_api.principal import Principal
from laf_api.schemas import BlobOut
from laf_core import blobs

router = APIRouter(prefix="/api/blobs", tags=["blobs"])
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


async def _uploader(caller: Annotated[Principal, Depends(principal)]) -> Principal:
    if not (caller.holds("runner") or caller.holds("operator")):
        raise HTTPException(403, "storing data needs the runner or operator role")
    return caller


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=BlobOut,
    responses={
        200: {"description": "Stored before: the same content, the same hash"},
        413: {"description": "More than LAF_API_BLOB_MAX_BYTES"},
        422: {"description": "The content does not match X-Content-SHA256"},
    },
    openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {}}}},
)
async def store_blob(
    request: Request,
    response: Response,
    caller: Annotated[Principal, Depends(_uploader)],
    pool: Pool,
    settings: Settings,
    content_type: Annotated[str, Header()] = "application/octet-stream",
    x_content_sha256: Annotated[
        str | None,
        Header(pattern=r"^[0-9a-fA-F]{64}$", description="The body's SHA-256, to check it"),
    ] = None,
) -> BlobOut:
    """Store the body as it is. Send X-Content-SHA256 to have it checked on arrival."""
    content = bytearray()
    async for chunk in request.stream():
        content += chunk
        if len(content) > settings.blob_max_bytes:
            raise HTTPException(413, f"more than {settings.blob_max_bytes} bytes")
    digest = hashlib.sha256(content).hexdigest()
    if x_content_sha256 is not None and x_content_sha256.lower() != digest:
        raise HTTPException(422, "the content does not match X-Content-SHA256")
    media_type = content_type.split(";")[0].strip()[:200] or "application/octet-stream"
    async with pool.acquire() as conn:
        stored = await conn.fetchval(
            """INSERT INTO blobs (sha256, media_type, size, content, stored_by)
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING RETURNING true""",
            digest,
            media_type,
            len(content),
            bytes(content),
            caller.actor,
        )
    if not stored:
        response.status_code = status.HTTP_200_OK
    return BlobOut(
        sha256=digest, size=len(content), media_type=media_type, ref=blobs.PREFIX + digest
    )


@router.get(
    "/{sha256}",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        404: {"description": "No such data"},
    },
)
async def get_blob(sha256: str, _: Viewer, pool: Pool) -> Response:
    if not _SHA256.match(sha256):
        raise HTTPException(404, f"no stored data with sha256 '{sha256}'")
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT media_type, content FROM blobs WHERE sha256 = $1", sha256)
    if row is None:
        raise HTTPException(404, f"no stored data with sha256 '{sha256}'")
    return Response(row["content"], media_type=row["media_type"])
