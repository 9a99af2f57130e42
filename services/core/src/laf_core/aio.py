"""Waiting in asyncio, one helper of each kind (kopf's `aiotime`, `aiotasks`)."""

from __future__ import annotations

import asyncio


async def wait_any(*events: asyncio.Event) -> None:
    """Return as soon as one of `events` is set."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def sleep(seconds: float, *wake: asyncio.Event) -> bool:
    """Sleep for `seconds`, or less if one of `wake` (a service's stop, say) is set.
    Returns True when woken early."""
    if not wake:
        await asyncio.sleep(seconds)
        return False
    try:
        await asyncio.wait_for(wait_any(*wake), seconds)
    except TimeoutError:
        return False
    return True
