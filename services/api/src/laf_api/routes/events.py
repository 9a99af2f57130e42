"""GET /api/events: live workflow and task changes as Server-Sent Events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

router = APIRouter(tags=["events"])
KEEPALIVE_S = 15.0


@router.get(
    "/api/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An SSE stream"}},
)
async def events(
    request: Request,
    workflow_id: Annotated[str | None, Query(description="Only this workflow's events")] = None,
) -> StreamingResponse:
    """Each message is `event: <type>` (e.g. `task.succeeded`) and `data: <envelope JSON>`
    with `id, type, occurred_at, workflow_id, task_id, attempt, data` (data has the new
    `status`, and for tasks `name` and `executor`). The stream starts with `event: ready`.
    If the client falls behind, it gets `event: overflow` and should re-read the API."""
    live = request.app.state.live
    subscriber = await live.subscribe(workflow_id)

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
            await live.unsubscribe(subscriber)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
