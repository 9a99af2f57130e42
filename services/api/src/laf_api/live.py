"""Live fan-out for Server-Sent Events: one exclusive queue per API process.

Every event on `laf.events` reaches each API instance through its own
exclusive, auto-delete queue and is handed to the SSE clients connected to
that instance. The queue is bound only while a client is connected: with
nobody watching, an API process is not handed every event of the system. These are hints for live views: a client that falls behind
loses events (it is told so, and re-reads the API), and a browser that
reconnects re-reads state rather than replaying the stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aio_pika.abc import (
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
)

from laf_core import broker, topology

log = logging.getLogger(__name__)
CLIENT_BUFFER = 1000


class Subscriber:
    def __init__(self, workflow_id: str | None) -> None:
        self.workflow_id = workflow_id
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(CLIENT_BUFFER)
        self.overflowed = False

    def offer(self, event: dict[str, Any]) -> None:
        if self.workflow_id and event.get("workflow_id") != self.workflow_id:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True


class LiveEvents:
    def __init__(self, amqp_url: str) -> None:
        self.amqp_url = amqp_url
        self.subscribers: set[Subscriber] = set()
        self.connected = False
        self._queue: AbstractQueue | None = None
        self._exchange: AbstractExchange | None = None
        self._bound = False
        self._binding = asyncio.Lock()

    async def subscribe(self, workflow_id: str | None = None) -> Subscriber:
        """A new client; events flow to it once this returns."""
        subscriber = Subscriber(workflow_id)
        self.subscribers.add(subscriber)
        await self._sync_binding()
        return subscriber

    async def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        await self._sync_binding()

    async def _sync_binding(self) -> None:
        """Bind the fan-out queue while someone listens, unbind when nobody does."""
        async with self._binding:
            wanted = bool(self.subscribers)
            if wanted == self._bound or self._queue is None or self._exchange is None:
                return
            try:
                if wanted:
                    await self._queue.bind(self._exchange, "#")
                else:
                    await self._queue.unbind(self._exchange, "#")
            except Exception as exc:  # the session is going down; it re-binds when back
                log.warning("live fan-out: cannot %s: %s", "bind" if wanted else "unbind", exc)
                return
            self._bound = wanted

    def _dispatch(self, message: AbstractIncomingMessage) -> None:
        try:
            event = json.loads(message.body)
        except ValueError:
            log.warning("live fan-out: unreadable message %s dropped", message.message_id)
            return
        for subscriber in list(self.subscribers):
            subscriber.offer(event)

    async def run(self, stop: asyncio.Event) -> None:
        """Keep a fan-out queue consumed until `stop`, reconnecting after failures."""
        await broker.keep_session(self.amqp_url, stop, self._subscribe, self._state, "live fan-out")

    async def _subscribe(self, connection: AbstractConnection) -> None:
        channel = await connection.channel()
        await broker.declare_topology(channel)
        exchange = await channel.get_exchange(topology.EVENTS_EXCHANGE)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)

        async def on_message(message: AbstractIncomingMessage) -> None:
            self._dispatch(message)

        await queue.consume(on_message, no_ack=True)
        async with self._binding:
            self._queue, self._exchange, self._bound = queue, exchange, False
        await self._sync_binding()

    def _state(self, connected: bool) -> None:
        self.connected = connected
        if not connected:
            self._queue = self._exchange = None
