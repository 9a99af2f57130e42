"""Who a LAF token belongs to, remembered for a few seconds.

Nearly every call is a runner's report, and looking its token up cost two queries and
a quarter of the API's CPU per report (py-spy, chain of 100). Revoking stays
immediate: a trigger rings `laf_credentials` whenever a token is revoked or a user's
roles or state change (db/functions/credentials.sql), and every API process empties
its cache when it hears it; the process that made the change empties its own before
answering. While the listening connection is down nothing is remembered, and an
answer looked up while a change was heard is not kept (the generation check).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime

from laf_api.store.auth import TokenOwner
from laf_core.aio import sleep, wait_any
from laf_core.backoff import delays
from laf_core.db.pool import Connection, connect

log = logging.getLogger(__name__)
CHANNEL = "laf_credentials"
MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class _Entry:
    owner: TokenOwner
    until: float  # time.monotonic()


class CredentialCache:
    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self.listening = False
        self.generation = 0  # moves on every change heard: lookups begun before are not kept
        self._entries: dict[str, _Entry] = {}

    def get(self, digest: str) -> TokenOwner | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if entry.until <= time.monotonic():
            del self._entries[digest]
            return None
        return entry.owner

    def put(
        self, digest: str, owner: TokenOwner, expires_at: datetime | None, generation: int
    ) -> None:
        """Remember `owner` unless a change was heard since `generation` was read."""
        if not self.listening or generation != self.generation or self.ttl_s <= 0:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        until = time.monotonic() + self.ttl_s
        if expires_at is not None:
            until = min(until, time.monotonic() + (expires_at - _now(expires_at)).total_seconds())
        self._entries[digest] = _Entry(owner, until)

    def forget(self, *_: object) -> None:
        """A token or user changed somewhere: nothing remembered holds."""
        self.generation += 1
        self._entries.clear()

    async def run(self, dsn: str, stop: asyncio.Event) -> None:
        """Listen for changes until `stop`; reconnect with backoff when the connection drops."""
        if self.ttl_s <= 0:
            return
        backoff = delays(0.2, 5.0)
        while not stop.is_set():
            try:
                conn = await connect(dsn)
            except Exception as exc:
                log.debug("credential cache cannot listen yet: %s", exc)
                await sleep(next(backoff), stop)
                continue
            try:
                await self._listen(conn, stop)
                backoff = delays(0.2, 5.0)
            except Exception as exc:
                log.warning("credential cache stopped listening: %s", exc)
            finally:
                self.listening = False
                self.forget()
                if not conn.is_closed():
                    conn.terminate()
            await sleep(next(backoff), stop)

    async def _listen(self, conn: Connection, stop: asyncio.Event) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(CHANNEL, self.forget)
        self.forget()
        self.listening = True
        await wait_any(stop, lost)


def _now(like: datetime) -> datetime:
    return datetime.now(like.tzinfo)
