"""GET /api/events: live workflow and task changes as Server-Sent Events."""

from __future__ import annotations

import asyncio
import collections
import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from laf_api.auth import Viewer
from laf_api.deps import Settings

router = APIRouter(tags=["events"])
KEEPALIVE_S = 15.0
RETRY_AFTER_S = 10


class StreamCount:
    """Open event streams, in all and per caller (README "Limits")."""

    def __init__(self) -> None:
        self.total = 0
        self.by_caller: collections.Counter[str] = collections.Counter()

    def open(self, caller: str, most: int, most_per_caller: int) -> None:
        if self.total >= most:
            raise _busy(f"this API process serves {most} event streams already")
        if self.by_caller[caller] >= most_per_caller:
            raise _busy(f"you have {most_per_caller} event streams open already")
        self.total += 1
        self.by_caller[caller] += 1

    def close(self, caller: str) -> None:
        self.total -= 1
        self.by_caller[caller] -= 1
        if self.by_caller[caller] <= 0:
            del self.by_caller[caller]


def _busy(message: str) -> HTTPException:
    return HTTPException(429, message, headers={"Retry-After": str(RETRY_AFTER_S)})


@router.get(
    "/api/events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "An SSE stream"},
        429: {"description": "Too many event streams open (in all or yours); see Retry-After"},
    },
)
async def events(
    request: Request,
    caller: Viewer,
    settings: Settings,
    workflow_id: Annotated[
        uuid.UUID | None, Query(description="Only this workflow's events")
    ] = None,
) -> StreamingResponse:
    """Each message is `event: <type>` (e.g. `task.succeeded`) and `data: <envelope JSON>`
    with `id, type, occurred_at, workflow_id, task_id, attempt, data` (data has the new
    `status`, and for tasks `name` and `executor`). The stream starts with `event: ready`.
    If the client falls behind, it gets `event: overflow` and should re-read the API."""
    live = request.app.state.live
    count: StreamCount = request.app.state.event_streams
    count.open(caller.name, settings.max_event_streams, settings.max_event_streams_per_caller)
    try:
        subscriber = await live.subscribe(str(workflow_id) if workflow_id else None)
    except BaseException:
        count.close(caller.name)
        raise

    async def stream() -> AsyncIterator[str]:
        try:
            yield f"event: ready\ndata: {json.dumps({'connected': live.connected})}\n\n"
            while not await request.is_disconnected():
                try:
                    event = await asyncio.wait_for(subscriber.queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield f"id: {event.get('id', '')}\nevent: {event.get('type', 'message')}\ndata: {json.dumps(event)}\n\n"
                if subscriber.overflowed:
                    subscriber.overflowed = False
                    yield "event: overflow\ndata: {}\n\n"
        finally:
            count.close(caller.name)
            await live.unsubscribe(subscriber)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
