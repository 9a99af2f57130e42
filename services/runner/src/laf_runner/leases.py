"""Who follows which long-lived piece of work (a Kubernetes Job), among the runners of a pool.

A lease is an exclusive queue (`topology.lease_queue`) on the runner's broker
connection: RabbitMQ gives it to one connection at a time and deletes it the
moment that connection ends, a runner killed or its pod replaced included. So
a runner of the pool that finds a Job whose lease it can take knows nobody
follows it any more and adopts it; while its follower lives, the Job is left
alone. Nothing new to run: the broker is already there, and the lease needs no
Kubernetes permission beyond reading Jobs.

A lease that could not be taken (the broker is away) is no lease: work that was
started here is followed anyway (at worst by two runners for a while, which the
API's guarded transitions make harmless: the second report is refused).
"""

from __future__ import annotations

import contextlib
import logging

import aio_pika
import aiormq
from aio_pika.abc import AbstractConnection

from laf_core import topology

log = logging.getLogger(__name__)


class Leases:
    def __init__(self) -> None:
        self._connection: AbstractConnection | None = None
        self._held: set[str] = set()

    @property
    def connected(self) -> bool:
        return self._connection is not None and not self._connection.is_closed

    async def attach(self, connection: AbstractConnection) -> None:
        """A new broker session: take the leases held before it again (they ended with
        the old connection)."""
        self._connection = connection
        for name in list(self._held):
            if not await self._declare(name):
                log.warning("lost the lease of %s to another runner during a reconnect", name)

    async def hold(self, name: str) -> None:
        """Hold `name` for work of this runner's own: now if the broker is there, else as
        soon as a session starts (`attach`)."""
        self._held.add(name)
        if not await self._declare(name):
            log.info("no lease on %s yet: it is taken when the broker is back", name)

    async def take(self, name: str) -> bool:
        """True if this runner now holds `name` (or already did); False if another
        runner does, or the broker is away."""
        if await self._declare(name):
            self._held.add(name)
            return True
        return False

    async def drop(self, name: str) -> None:
        self._held.discard(name)
        if not self.connected:
            return
        assert self._connection is not None
        with contextlib.suppress(aio_pika.exceptions.AMQPError, OSError, RuntimeError):
            async with self._connection.channel() as channel:
                await channel.queue_delete(topology.lease_queue(name))

    async def _declare(self, name: str) -> bool:
        if not self.connected:
            return False
        assert self._connection is not None
        try:
            # A channel per try: a refused declare closes the channel it was made on.
            async with self._connection.channel() as channel:
                await channel.declare_queue(topology.lease_queue(name), exclusive=True)
        except aiormq.exceptions.ChannelLockedResource:
            return False
        except (aio_pika.exceptions.AMQPError, OSError, RuntimeError) as exc:
            log.info("cannot take the lease of %s now: %r", name, exc)
            return False
        return True
