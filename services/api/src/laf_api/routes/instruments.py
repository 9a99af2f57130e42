"""The lab's instruments: registry, status, and who is using or waiting for each."""

from __future__ import annotations

from collections import defaultdict

import asyncpg
from fastapi import APIRouter, HTTPException, status
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from laf_api.deps import Actor, Pool
from laf_api.schemas import InstrumentIn, InstrumentOut, InstrumentPatch, InstrumentTask
from laf_core.db.queries import Q

router = APIRouter(prefix="/api/instruments", tags=["instruments"])


def _check_schema(schema: dict) -> None:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise HTTPException(
            422, f"parameters_schema is not a valid JSON Schema: {exc.message}"
        ) from None


async def _read(conn: asyncpg.Connection, instrument_id: str | None) -> list[InstrumentOut]:
    rows = await conn.fetch(Q.list_instruments, instrument_id)
    current: defaultdict[str, list[InstrumentTask]] = defaultdict(list)
    queue: defaultdict[str, list[InstrumentTask]] = defaultdict(list)
    for t in await conn.fetch(Q.instrument_tasks, instrument_id):
        item = InstrumentTask(**{k: v for k, v in t.items() if k != "instrument"})
        (queue if t["status"] == "waiting" else current)[t["instrument"]].append(item)
    return [InstrumentOut(**dict(r), current=current[r["id"]], queue=queue[r["id"]]) for r in rows]


@router.get("", response_model=list[InstrumentOut])
async def list_instruments(pool: Pool) -> list[InstrumentOut]:
    """Every instrument with the tasks on it now and its queue, in order."""
    async with pool.acquire() as conn:
        return await _read(conn, None)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=InstrumentOut,
    responses={409: {"description": "An instrument with this id exists"}},
)
async def register_instrument(body: InstrumentIn, pool: Pool) -> InstrumentOut:
    _check_schema(body.parameters_schema)
    async with pool.acquire() as conn:
        created = await conn.fetchval(
            Q.insert_instrument,
            body.id,
            body.name,
            body.kind,
            body.capacity,
            body.status,
            body.endpoint,
            body.parameters_schema,
        )
        if created is None:
            raise HTTPException(409, f"instrument '{body.id}' exists; PATCH it to change it")
        return (await _read(conn, body.id))[0]


@router.get(
    "/{instrument_id}", response_model=InstrumentOut, responses={404: {"description": "Unknown"}}
)
async def get_instrument(instrument_id: str, pool: Pool) -> InstrumentOut:
    async with pool.acquire() as conn:
        found = await _read(conn, instrument_id)
    if not found:
        raise HTTPException(404, f"no instrument '{instrument_id}'")
    return found[0]


@router.patch(
    "/{instrument_id}", response_model=InstrumentOut, responses={404: {"description": "Unknown"}}
)
async def update_instrument(
    instrument_id: str, body: InstrumentPatch, pool: Pool, actor: Actor
) -> InstrumentOut:
    """Change status (online, offline, maintenance), capacity, endpoint, name or schema.

    Going online or gaining capacity hands the free slots to waiting tasks at once.
    """
    if body.parameters_schema is not None:
        _check_schema(body.parameters_schema)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(Q.set_context, actor, body.reason or "instrument updated")
        updated = await conn.fetchval(
            Q.update_instrument,
            instrument_id,
            body.name,
            body.capacity,
            body.status,
            "endpoint" in body.model_fields_set,
            body.endpoint,
            body.parameters_schema,
        )
        if updated is None:
            raise HTTPException(404, f"no instrument '{instrument_id}'")
        await conn.fetchval(Q.grant_instrument, instrument_id)
    async with pool.acquire() as conn:
        return (await _read(conn, instrument_id))[0]
