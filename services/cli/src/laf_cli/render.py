"""Tables and lines for people: workflows, tasks, history, instruments, tokens, users.

Each function takes the API's JSON as it came and returns a rich renderable; only
fields the API documents are read, and a missing optional one shows as `-`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

STYLE = {
    "succeeded": "green",
    "failed": "bold red",
    "cancelled": "magenta",
    "skipped": "dim",
    "running": "bold cyan",
    "queued": "cyan",
    "waiting": "yellow",
    "paused": "yellow",
    "pending": "dim",
    "online": "green",
    "offline": "bold red",
    "maintenance": "yellow",
}
FINAL_WORKFLOW = ("succeeded", "failed", "cancelled")
FINAL_TASK = ("succeeded", "failed", "cancelled", "skipped")


def status(value: Any) -> Text:
    text = str(value or "-")
    return Text(text, style=STYLE.get(text, ""))


def when(value: Any) -> str:
    """An API timestamp in local time, or `-`."""
    if not value:
        return "-"
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def seconds_between(start: Any, end: Any) -> float | None:
    try:
        return (
            datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start))
        ).total_seconds()
    except (TypeError, ValueError):
        return None


def duration(start: Any, end: Any) -> str:
    if not start or not end:
        return "-"
    seconds = seconds_between(start, end)
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def compact(value: Any, limit: int = 80) -> str:
    if value is None:
        return "-"
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def labels(value: Any) -> str:
    if not isinstance(value, dict) or not value:
        return "-"
    return ", ".join(f"{k}={v}" for k, v in value.items())


def progress(workflow: dict[str, Any]) -> str:
    """`done/total` (and how many failed) from `progress`, else from the tasks."""
    counts = workflow.get("progress")
    if isinstance(counts, dict) and "total" in counts:
        total = int(counts.get("total", 0))
        done = total - int(counts.get("unfinished", 0))
        failed = int(counts.get("failed", 0))
    elif isinstance(workflow.get("tasks"), list):
        tasks = workflow["tasks"]
        total = len(tasks)
        done = sum(t.get("status") in FINAL_TASK for t in tasks)
        failed = sum(t.get("status") == "failed" for t in tasks)
    else:
        return "-"
    return f"{done}/{total}" + (f" ({failed} failed)" if failed else "")


# Never cut short: what a person copies into the next command, and the states.
_WHOLE = {"ID", "TASK", "STATUS", "INSTRUMENT", "USER", "FROM", "TO", "AT", "CREATED"}


def _table(*columns: str, title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        table.add_column(column, no_wrap=column in _WHOLE)
    return table


def workflow_list(items: list[dict[str, Any]], next_cursor: str | None) -> RenderableType:
    table = _table("ID", "NAME", "STATUS", "TASKS", "LABELS", "CREATED")
    for item in items:
        table.add_row(
            str(item.get("id")),
            escape(str(item.get("name", ""))),
            status(item.get("status")),
            progress(item),
            escape(labels(item.get("labels"))),
            when(item.get("created_at")),
        )
    parts: list[RenderableType] = [table]
    if not items:
        parts = [Text("no workflows match", style="dim")]
    if next_cursor:
        parts.append(Text(f"more: --cursor {next_cursor}", style="dim"))
    return Group(*parts)


def workflow_header(workflow: dict[str, Any]) -> RenderableType:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("workflow", f"{escape(str(workflow.get('name')))}  [dim]{workflow.get('id')}[/]")
    grid.add_row("status", status(workflow.get("status")))
    grid.add_row("tasks", progress(workflow))
    if workflow.get("labels"):
        grid.add_row("labels", escape(labels(workflow.get("labels"))))
    if workflow.get("description"):
        grid.add_row("description", escape(str(workflow["description"])))
    grid.add_row(
        "created", f"{when(workflow.get('created_at'))} by {workflow.get('created_by', '-')}"
    )
    if workflow.get("started_at"):
        grid.add_row("started", when(workflow.get("started_at")))
    if workflow.get("finished_at"):
        took = duration(workflow.get("started_at"), workflow.get("finished_at"))
        grid.add_row("finished", f"{when(workflow.get('finished_at'))} ({took})")
    return grid


def task_table(tasks: list[dict[str, Any]], title: str | None = "tasks") -> Table:
    table = _table(
        "TASK",
        "STATUS",
        "ATTEMPT",
        "EXECUTOR",
        "INSTRUMENT",
        "DEPENDS ON",
        "TOOK",
        "OUTPUTS / ERROR",
        title=title,
    )
    for task in tasks:
        error = task.get("error")
        result = (
            Text(compact(error, 100), style="red") if error else Text(compact(task.get("outputs")))
        )
        table.add_row(
            escape(str(task.get("name"))),
            status(task.get("status")),
            f"{task.get('attempt', 0)}/{task.get('max_attempts', '-')}",
            str(task.get("executor", "-")),
            str(task.get("instrument") or "-"),
            escape(", ".join(task.get("depends_on") or [])) or "-",
            duration(task.get("started_at"), task.get("finished_at")),
            result,
        )
    return table


def attempts_table(tasks: list[dict[str, Any]]) -> Table | None:
    """Earlier attempts, for tasks that ran more than once or failed."""
    rows = [
        (task, attempt)
        for task in tasks
        for attempt in task.get("attempts") or []
        if len(task.get("attempts") or []) > 1 or attempt.get("error")
    ]
    if not rows:
        return None
    table = _table("TASK", "ATTEMPT", "STATUS", "RUNNER", "FINISHED", "ERROR", title="attempts")
    for task, attempt in rows:
        table.add_row(
            escape(str(task.get("name"))),
            str(attempt.get("attempt")),
            status(attempt.get("status")),
            str(attempt.get("runner_id") or "-"),
            when(attempt.get("finished_at")),
            Text(str(attempt.get("error") or "-"), style="red" if attempt.get("error") else ""),
        )
    return table


def workflow_detail(workflow: dict[str, Any]) -> RenderableType:
    tasks = workflow.get("tasks") or []
    parts: list[RenderableType] = [workflow_header(workflow), task_table(tasks)]
    attempts = attempts_table(tasks)
    if attempts is not None:
        parts.append(attempts)
    return Group(*parts)


def history(entries: list[dict[str, Any]]) -> Table:
    table = _table("AT", "TASK", "ATTEMPT", "FROM", "TO", "ACTOR", "REASON")
    for entry in entries:
        table.add_row(
            when(entry.get("at")),
            escape(str(entry.get("task_name") or "(workflow)")),
            str(entry.get("attempt") or "-") if entry.get("task_name") else "-",
            status(entry.get("from_status")),
            status(entry.get("to_status")),
            escape(str(entry.get("actor", "-"))),
            escape(str(entry.get("reason") or "-")),
        )
    return table


def _slot(task: dict[str, Any]) -> str:
    return f"{task.get('workflow_name')}/{task.get('task_name')} ({task.get('status')})"


def instruments(items: list[dict[str, Any]]) -> RenderableType:
    if not items:
        return Text("no instruments are registered", style="dim")
    table = _table("INSTRUMENT", "NAME", "KIND", "STATUS", "IN USE", "NOW", "QUEUE")
    for item in items:
        current = item.get("current") or []
        queue = item.get("queue") or []
        waiting = ", ".join(_slot(t) for t in queue[:3]) + (
            f" +{len(queue) - 3}" if len(queue) > 3 else ""
        )
        table.add_row(
            escape(str(item.get("id"))),
            escape(str(item.get("name", ""))),
            escape(str(item.get("kind", ""))),
            status(item.get("status")),
            f"{len(current)}/{item.get('capacity', '-')}",
            escape("\n".join(_slot(t) for t in current)) or "-",
            escape(waiting) if queue else "-",
        )
    return table


def instrument_history(entries: list[dict[str, Any]]) -> Table:
    table = _table("AT", "FROM", "TO", "CHANGE", "ACTOR", "REASON")
    for entry in entries:
        change = entry.get("change") or {}
        table.add_row(
            when(entry.get("at")),
            status(entry.get("from_status")),
            status(entry.get("to_status")),
            escape(
                ", ".join(
                    f"{k}: {compact(v[0], 30)} → {compact(v[1], 30)}"
                    for k, v in change.items()
                    if isinstance(v, list) and len(v) == 2
                )
            )
            or "-",
            escape(str(entry.get("actor", "-"))),
            escape(str(entry.get("reason") or "-")),
        )
    return table


def tokens(items: list[dict[str, Any]]) -> RenderableType:
    if not items:
        return Text("no tokens", style="dim")
    table = _table("ID", "NAME", "OWNER", "KIND", "ROLES", "EXPIRES", "LAST USED", "REVOKED")
    for item in items:
        table.add_row(
            str(item.get("id")),
            escape(str(item.get("name", ""))),
            escape(str(item.get("owner", ""))),
            str(item.get("kind", "")),
            ", ".join(item.get("roles") or []),
            when(item.get("expires_at")) if item.get("expires_at") else "never",
            when(item.get("last_used_at")),
            Text(when(item.get("revoked_at")), style="red")
            if item.get("revoked_at")
            else Text("-"),
        )
    return table


def users(items: list[dict[str, Any]]) -> Table:
    table = _table("USER", "ROLES", "DISABLED", "LOCKED UNTIL", "CREATED BY", "CREATED")
    for item in items:
        table.add_row(
            escape(str(item.get("name"))),
            ", ".join(item.get("roles") or []),
            Text("yes", style="red") if item.get("disabled") else Text("no"),
            when(item.get("locked_until")),
            escape(str(item.get("created_by", "-"))),
            when(item.get("created_at")),
        )
    return table
