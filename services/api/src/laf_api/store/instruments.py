"""The lab's instruments: the registry, and who is using or waiting for each."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from laf_api.errors import NotFound, Refused
from laf_api.schemas import (
    InstrumentChange,
    InstrumentIn,
    InstrumentOut,
    InstrumentPatch,
    InstrumentRun,
    InstrumentRuns,
    InstrumentTask,
)
from laf_core.db.pool import Connection
from laf_core.db.queries import Q


async def _read(conn: Connection, instrument_id: str | None) -> list[InstrumentOut]:
    rows = await conn.fetch(Q.list_instruments, instrument_id)
    current: defaultdict[str, list[InstrumentTask]] = defaultdict(list)
    queue: defaultdict[str, list[InstrumentTask]] = defaultdict(list)
    for t in await conn.fetch(Q.instrument_tasks, instrument_id):
        item = InstrumentTask(**{k: v for k, v in t.items() if k != "instrument"})
        (queue if t["status"] == "waiting" else current)[t["instrument"]].append(item)
    return [InstrumentOut(**dict(r), current=current[r["id"]], queue=queue[r["id"]]) for r in rows]


async def list_instruments(conn: Connection) -> list[InstrumentOut]:
    return await _read(conn, None)


async def get_instrument(conn: Connection, instrument_id: str) -> InstrumentOut:
    found = await _read(conn, instrument_id)
    if not found:
        raise NotFound(f"no instrument '{instrument_id}'")
    return found[0]


async def register(conn: Connection, instrument: InstrumentIn, actor: str) -> InstrumentOut:
    """A new instrument; Refused when one with its id exists."""
    async with conn.transaction():
        await conn.execute(Q.set_context, actor, "registered")
        created = await _insert(conn, instrument)
    if created is None:
        raise Refused(f"instrument '{instrument.id}' exists; PATCH it to change it")
    return await get_instrument(conn, instrument.id)


async def _insert(conn: Connection, instrument: InstrumentIn) -> str | None:
    created: str | None = await conn.fetchval(
        Q.insert_instrument,
        instrument.id,
        instrument.name,
        instrument.kind,
        instrument.capacity,
        instrument.status,
        instrument.endpoint,
        instrument.parameters_schema,
        instrument.calibration_due,
    )
    return created


async def history(conn: Connection, instrument_id: str) -> list[InstrumentChange]:
    await get_instrument(conn, instrument_id)  # NotFound for an unknown one
    return [
        InstrumentChange(**dict(r)) for r in await conn.fetch(Q.instrument_history, instrument_id)
    ]


async def update(
    conn: Connection, instrument_id: str, change: InstrumentPatch, actor: str
) -> InstrumentOut:
    """Apply `change`; going online or gaining capacity hands free slots to waiting tasks
    in the same transaction."""
    async with conn.transaction():
        await conn.execute(Q.set_context, actor, change.reason or "instrument updated")
        updated = await conn.fetchval(
            Q.update_instrument,
            instrument_id,
            change.name,
            change.capacity,
            change.status,
            "endpoint" in change.model_fields_set,
            change.endpoint,
            change.parameters_schema,
            "calibration_due" in change.model_fields_set,
            change.calibration_due,
        )
        if updated is None:
            raise NotFound(f"no instrument '{instrument_id}'")
        await conn.fetchval(Q.grant_instrument, instrument_id)
    return await get_instrument(conn, instrument_id)


async def runs(conn: Connection, instrument_id: str, hours: float, limit: int) -> InstrumentRuns:
    """The instrument's attempts of the last `hours` (at most `limit`, newest first) and
    the share of its slots they used; NotFound for an unknown instrument."""
    instrument = await get_instrument(conn, instrument_id)
    now: datetime = await conn.fetchval("SELECT clock_timestamp()")
    since = now - timedelta(hours=hours)
    found = [
        InstrumentRun(**dict(r))
        for r in await conn.fetch(Q.instrument_runs, instrument_id, hours * 3600, limit)
    ]
    busy = sum(_overlap_s(run, since, now) for run in found)
    capacity_s = hours * 3600 * instrument.capacity
    return InstrumentRuns(
        instrument_id=instrument_id,
        hours=hours,
        since=since,
        capacity=instrument.capacity,
        busy_s=round(busy, 3),
        utilisation=min(1.0, busy / capacity_s),
        runs=found,
    )


def _overlap_s(run: InstrumentRun, since: datetime, now: datetime) -> float:
    """Seconds of `run` inside [since, now] (a run that never started used no slot)."""
    if run.started_at is None:
        return 0.0
    start = max(run.started_at, since)
    end = min(run.finished_at or now, now)
    return max(0.0, (end - start).total_seconds())
