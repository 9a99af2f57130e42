"""The lab's instruments: registry, status, and who is using or waiting for each."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status

from laf_api import user_schemas
from laf_api.auth import Admin, Viewer
from laf_api.deps import Pool
from laf_api.errors import Unacceptable
from laf_api.schemas import (
    InstrumentChange,
    InstrumentIn,
    InstrumentOut,
    InstrumentPatch,
    InstrumentRuns,
)
from laf_api.store import instruments
from laf_core.policy import TaskPolicy

router = APIRouter(prefix="/api/instruments", tags=["instruments"])


def _check_schema(schema: dict[str, Any]) -> None:
    try:
        user_schemas.check(schema)
    except user_schemas.SchemaRefused as exc:
        raise Unacceptable(f"parameters_schema: {exc}") from None


def _check_endpoint(request: Request, endpoint: str | None) -> None:
    policy: TaskPolicy = request.app.state.policy
    problem = policy.endpoint_problem(endpoint) if endpoint else None
    if problem:
        raise Unacceptable(problem)


@router.get("", response_model=list[InstrumentOut])
async def list_instruments(_: Viewer, pool: Pool) -> list[InstrumentOut]:
    """Every instrument with the tasks on it now and its queue, in order."""
    async with pool.acquire() as conn:
        return await instruments.list_instruments(conn)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=InstrumentOut,
    responses={409: {"description": "An instrument with this id exists"}},
)
async def register_instrument(
    request: Request, body: InstrumentIn, caller: Admin, pool: Pool
) -> InstrumentOut:
    """Register an instrument (admin). Its endpoint must be one LAF_INSTRUMENT_ENDPOINTS
    allows; link-local and metadata addresses never are."""
    await asyncio.to_thread(_check_schema, body.parameters_schema)  # the user's: off the loop
    _check_endpoint(request, body.endpoint)
    async with pool.acquire() as conn:
        return await instruments.register(conn, body, caller.actor)


@router.get(
    "/{instrument_id}", response_model=InstrumentOut, responses={404: {"description": "Unknown"}}
)
async def get_instrument(instrument_id: str, _: Viewer, pool: Pool) -> InstrumentOut:
    async with pool.acquire() as conn:
        return await instruments.get_instrument(conn, instrument_id)


@router.patch(
    "/{instrument_id}", response_model=InstrumentOut, responses={404: {"description": "Unknown"}}
)
async def update_instrument(
    request: Request, instrument_id: str, body: InstrumentPatch, caller: Admin, pool: Pool
) -> InstrumentOut:
    """Change status (online, offline, maintenance), capacity, endpoint, name, schema or
    calibration-due date (null clears it), with a `reason` for the audit trail.

    Going online or gaining capacity hands the free slots to waiting tasks at once.
    """
    if body.parameters_schema is not None:
        await asyncio.to_thread(_check_schema, body.parameters_schema)  # the user's: off the loop
    _check_endpoint(request, body.endpoint)
    async with pool.acquire() as conn:
        return await instruments.update(conn, instrument_id, body, caller.actor)


@router.get(
    "/{instrument_id}/history",
    response_model=list[InstrumentChange],
    responses={404: {"description": "Unknown"}},
)
async def instrument_history(instrument_id: str, _: Viewer, pool: Pool) -> list[InstrumentChange]:
    """Every change of the instrument (registration, status, capacity, endpoint, name,
    schema) with who made it and why, oldest first."""
    async with pool.acquire() as conn:
        return await instruments.history(conn, instrument_id)


@router.get(
    "/{instrument_id}/runs",
    response_model=InstrumentRuns,
    responses={404: {"description": "Unknown"}},
)
async def instrument_runs(
    instrument_id: str,
    _: Viewer,
    pool: Pool,
    hours: Annotated[float, Query(gt=0, le=720, description="The window, back from now")] = 24,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> InstrumentRuns:
    """The instrument's recent runs (attempts of its tasks finished in the last `hours`,
    and those running now), newest first, and its utilisation over that window."""
    async with pool.acquire() as conn:
        return await instruments.runs(conn, instrument_id, hours, limit)
