"""Is each part of LAF ready: the API's own database check (/readyz) and the workers'
probe servers (`LAF_API_SERVICE_PROBES`), asked concurrently for GET /api/system."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import asyncpg

from laf_api.schemas import ServiceReadiness

log = logging.getLogger(__name__)


async def database_problem(pool: asyncpg.Pool | None) -> str | None:
    """What keeps the API's database from answering, in a few words; None when it does.
    No internals: the reason goes to the log."""
    if pool is None:
        return "database: not connected yet"
    try:
        await pool.fetchval("SELECT 1", timeout=2)
    except Exception as exc:
        log.warning("readiness: the database is unreachable: %s", type(exc).__name__)
        return "database: unreachable"
    return None


async def probe(
    session: aiohttp.ClientSession, name: str, base_url: str, timeout_s: float
) -> ServiceReadiness:
    """GET `base_url`/readyz: ready on 200; anything else, no answer in time or no
    connection is not ready, with the reason (never an exception)."""
    url = f"{base_url}/readyz"
    try:
        async with session.get(
            url, timeout=aiohttp.ClientTimeout(total=timeout_s), allow_redirects=False
        ) as answer:
            body = (await answer.content.read(200)).decode(errors="replace").strip()
            if answer.status == 200:
                return ServiceReadiness(name=name, url=url, ready=True, detail="ready")
            said = " ".join(body.split())[:120]
            return ServiceReadiness(
                name=name, url=url, ready=False, detail=f"HTTP {answer.status}: {said}".strip()
            )
    except TimeoutError:
        detail = f"no answer within {timeout_s:g} s"
    except aiohttp.ClientConnectorError:
        detail = "unreachable (connection refused or no route)"
    except aiohttp.ClientError as exc:
        detail = f"bad answer ({type(exc).__name__})"
    return ServiceReadiness(name=name, url=url, ready=False, detail=detail)


async def probe_all(probes: dict[str, str], timeout_s: float) -> list[ServiceReadiness]:
    """Every worker's readiness, asked at once: the slowest costs `timeout_s`, not their sum."""
    if not probes:
        return []
    async with aiohttp.ClientSession() as session:
        return list(
            await asyncio.gather(
                *(probe(session, name, url, timeout_s) for name, url in probes.items())
            )
        )
