"""Following a workflow until it ends: `laf watch`, `laf submit --wait`.

The event stream (`GET /api/events?workflow_id=…`) moves each task's state as it
changes; the workflow is re-read when the stream starts (so nothing between the
first read and the subscription is missed), when it says `overflow`, when the
workflow reaches a final state (for the outputs and errors), and every few seconds
anyway. Without a stream (refused, dropped, or the API's own feed disconnected) it
polls instead, and keeps trying to reconnect. The end is always judged from a read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from laf_cli import render
from laf_cli.client import AsyncApi
from laf_cli.errors import CliError, Unreachable, refusal

FINAL = render.FINAL_WORKFLOW
STREAM_READ_TIMEOUT_S = 45.0  # the API sends a keep-alive every 15 s
SAFETY_POLL_S = 5.0  # a re-read while the stream is up: events are a speed-up, not the truth
TICK_S = 1.0
TRY_AGAIN = (502, 503, 504)  # a proxy or the API saying "try again" (the database restarts)
UNREACHABLE_FOR_S = 30.0  # an API restart is ridden out; longer is a connection error


@dataclass
class _Signal:
    """What the stream reader tells the follower besides events."""

    kind: str  # "ready" (with `streaming`), "overflow", "lost"
    streaming: bool = False
    error: CliError | None = None


class Display(Protocol):
    def show(self, workflow: dict[str, Any]) -> None: ...


async def _read_stream(api: AsyncApi, workflow_id: str, out: asyncio.Queue[Any]) -> None:
    backoff = 0.5
    while True:
        with contextlib.suppress(httpx.TransportError):
            async with api.stream(
                "/api/events", {"workflow_id": workflow_id}, STREAM_READ_TIMEOUT_S
            ) as response:
                if response.status_code in (401, 403):
                    await response.aread()
                    error = refusal(response, sent_token=api.target.token is not None)
                    await out.put(_Signal("lost", error=error))
                    return
                if response.status_code == 200:
                    backoff = 0.5
                    await _dispatch(response, out)
        await out.put(_Signal("lost"))
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 10.0)


async def _dispatch(response: httpx.Response, out: asyncio.Queue[Any]) -> None:
    kind: str | None = None
    data: list[str] = []
    async for line in response.aiter_lines():
        if line.startswith(":"):
            continue
        if line.startswith("event:"):
            kind = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").removeprefix(" "))
        elif not line:
            if data:
                await out.put(_message(kind, "\n".join(data)))
            kind, data = None, []


def _message(kind: str | None, data: str) -> Any:
    try:
        body = json.loads(data)
    except ValueError:
        body = {}
    if kind == "ready":
        return _Signal("ready", streaming=bool(isinstance(body, dict) and body.get("connected")))
    if kind == "overflow":
        return _Signal("overflow")
    return body if isinstance(body, dict) else None


def apply(workflow: dict[str, Any], event: dict[str, Any]) -> bool:
    """Move the state an event reports; True when it says the workflow ended."""
    kind = str(event.get("type", ""))
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    assert isinstance(data, dict)
    if kind.startswith("workflow.") and data.get("status"):
        workflow["status"] = data["status"]
        return data["status"] in FINAL
    if kind.startswith("task."):
        for task in workflow.get("tasks") or []:
            if task.get("id") == event.get("task_id") or task.get("name") == data.get("name"):
                task["status"] = data.get("status", task.get("status"))
                if event.get("attempt") is not None:
                    task["attempt"] = event["attempt"]
                break
    return False


async def _read(api: AsyncApi, workflow_id: str, patient: bool = True) -> dict[str, Any]:
    """The workflow, riding out an API (or its database) that is briefly away (not on the
    first read: an API that is not there at all is a connection error at once)."""
    deadline = time.monotonic() + (UNREACHABLE_FOR_S if patient else 0.0)
    while True:
        try:
            workflow = await api.get(f"/api/workflows/{quote(workflow_id, safe='')}")
        except CliError as exc:
            away = isinstance(exc, Unreachable) or (
                exc.response is not None and exc.response.status_code in TRY_AGAIN
            )
            if not away or time.monotonic() > deadline:
                raise
            await asyncio.sleep(1.0)
            continue
        if not isinstance(workflow, dict):
            raise CliError("the API answered something other than a workflow")
        return workflow


async def follow(
    api: AsyncApi, workflow_id: str, show: Callable[[dict[str, Any]], None], poll_s: float
) -> dict[str, Any]:
    """Show the workflow each time it changes; return it as it ended."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    reader = asyncio.create_task(_read_stream(api, workflow_id, queue))
    streaming = False
    try:
        workflow = await _read(api, workflow_id, patient=False)
        show(workflow)
        reread_at = time.monotonic() + poll_s
        while workflow.get("status") not in FINAL:
            reread = False
            # At least once a second, so the board's clock moves while nothing happens.
            timeout = min(TICK_S, max(0.0, reread_at - time.monotonic()))
            try:
                items = [await asyncio.wait_for(queue.get(), timeout)]
            except TimeoutError:
                items, reread = [], time.monotonic() >= reread_at
            while not queue.empty():
                items.append(queue.get_nowait())
            for item in items:
                if isinstance(item, _Signal):
                    if item.error is not None:
                        raise item.error
                    if item.kind in ("ready", "lost"):
                        streaming = item.streaming
                    if not streaming:  # back to polling: the next read is due soon
                        reread_at = min(reread_at, time.monotonic() + poll_s)
                    reread = reread or item.kind in ("ready", "overflow")
                elif isinstance(item, dict) and apply(workflow, item):
                    reread = True
            if reread:
                workflow = await _read(api, workflow_id)
                reread_at = time.monotonic() + (SAFETY_POLL_S if streaming else poll_s)
            show(workflow)
        return workflow
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


# ---- displays ------------------------------------------------------------------------------


def _elapsed(workflow: dict[str, Any]) -> str:
    start = workflow.get("started_at") or workflow.get("created_at")
    end = workflow.get("finished_at") or datetime.now(UTC).isoformat()
    return render.duration(start, end)


def board(workflow: dict[str, Any], max_rows: int) -> RenderableType:
    """The live picture: name and state, a progress bar, and the tasks that matter most
    when they do not all fit (active and failed first)."""
    tasks = workflow.get("tasks") or []
    done = sum(t.get("status") in render.FINAL_TASK for t in tasks)
    counts: dict[str, int] = {}
    for task in tasks:
        counts[str(task.get("status"))] = counts.get(str(task.get("status")), 0) + 1
    head = Text.assemble(
        (f"{workflow.get('name')} ", "bold"),
        (f"{workflow.get('id')}  ", "dim"),
        render.status(workflow.get("status")),
        f"  {done}/{len(tasks)} tasks  {_elapsed(workflow)}",
    )
    bar = Table.grid()  # a grid row ends the bar's line (alone it runs into what follows)
    bar.add_row(ProgressBar(total=max(len(tasks), 1), completed=done, width=60))
    shown = tasks
    if len(tasks) > max_rows:
        busy = [t for t in tasks if t.get("status") not in ("succeeded", "skipped", "pending")]
        shown = busy[:max_rows]
    table = Table(
        "TASK",
        "STATUS",
        "ATTEMPT",
        "INSTRUMENT",
        "TOOK",
        "OUTPUTS / ERROR",
        header_style="bold",
        box=None,
        pad_edge=False,
    )
    for task in shown:
        error = task.get("error")
        table.add_row(
            escape(str(task.get("name"))),
            render.status(task.get("status")),
            f"{task.get('attempt', 0)}/{task.get('max_attempts', '-')}",
            str(task.get("instrument") or "-"),
            render.duration(task.get("started_at"), task.get("finished_at")),
            Text(render.compact(error, 60), style="red")
            if error
            else Text(render.compact(task.get("outputs"), 60), style="dim"),
        )
    summary = Text("  ".join(f"{n} {s}" for s, n in counts.items()), style="dim")
    parts: list[RenderableType] = [head, bar, table]
    if len(shown) < len(tasks):
        parts.append(Text(f"… {len(tasks) - len(shown)} more not shown", style="dim"))
    parts.append(summary)
    return Group(*parts)


class LiveBoard:
    """For a terminal: the board redrawn in place."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = Live(console=console, refresh_per_second=8, transient=False)

    def __enter__(self) -> LiveBoard:
        self.live.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.live.stop()

    def show(self, workflow: dict[str, Any]) -> None:
        self.live.update(board(workflow, max(5, self.console.height - 8)), refresh=True)


class ChangeLog:
    """For logs and pipes (a CI job): one line per change of state."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.seen: dict[str, tuple[Any, Any]] = {}

    def __enter__(self) -> ChangeLog:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def show(self, workflow: dict[str, Any]) -> None:
        stamp = datetime.now(UTC).astimezone().strftime("%H:%M:%S")
        for task in workflow.get("tasks") or []:
            key = f"task:{task.get('name')}"
            now = (task.get("status"), task.get("attempt"))
            if self.seen.get(key) != now:
                self.seen[key] = now
                line = Text.assemble(
                    f"{stamp} task {task.get('name')} ", render.status(task.get("status"))
                )
                if task.get("attempt", 0) > 1:
                    line.append(f" (attempt {task.get('attempt')})")
                if task.get("status") == "failed" and task.get("error"):
                    line.append(f": {task['error']}", style="red")
                self.console.print(line)
        now = (workflow.get("status"), None)
        if self.seen.get("workflow") != now:
            self.seen["workflow"] = now
            self.console.print(
                Text.assemble(
                    f"{stamp} workflow {workflow.get('name')} ",
                    render.status(workflow.get("status")),
                )
            )


class Silent:
    """`--output json`: nothing until the one document at the end."""

    def __enter__(self) -> Silent:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def show(self, workflow: dict[str, Any]) -> None:
        return None
