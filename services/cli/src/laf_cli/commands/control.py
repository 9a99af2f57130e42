"""Operator actions: laf cancel, pause, resume; laf retry, skip, complete."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.markup import escape

from laf_cli.errors import USAGE, CliError
from laf_cli.session import Output, OutputOption, Session, session

IdArgument = Annotated[str, typer.Argument(help="The workflow's id", show_default=False)]
TaskArgument = Annotated[str, typer.Argument(help="The task's name", show_default=False)]
Reason = Annotated[
    str, typer.Option("--reason", "-r", help="Why (kept in the audit trail)", show_default=False)
]
OptionalReason = Annotated[
    str | None, typer.Option("--reason", "-r", help="Why (kept in the audit trail)")
]


def _act(s: Session, output: Output, path: str, body: dict[str, Any] | None, done: str) -> None:
    workflow = s.api.post(path, body)
    s.emit(
        output,
        workflow,
        f"{done}: workflow {escape(str(workflow.get('name')))} [dim]{workflow.get('id')}[/] "
        f"is {workflow.get('status')}",
    )


def cancel(
    ctx: typer.Context, workflow_id: IdArgument, reason: Reason, output: OutputOption = Output.table
) -> None:
    """Cancel a workflow: nothing new starts, running tasks are stopped."""
    _act(
        session(ctx),
        output,
        f"/api/workflows/{quote(workflow_id, safe='')}/cancel",
        {"reason": reason},
        "cancelled",
    )


def pause(
    ctx: typer.Context,
    workflow_id: IdArgument,
    reason: OptionalReason = None,
    output: OutputOption = Output.table,
) -> None:
    """Pause a running workflow: nothing new starts; running tasks finish."""
    body = {"reason": reason} if reason else None
    _act(
        session(ctx), output, f"/api/workflows/{quote(workflow_id, safe='')}/pause", body, "paused"
    )


def resume(
    ctx: typer.Context,
    workflow_id: IdArgument,
    reason: OptionalReason = None,
    output: OutputOption = Output.table,
) -> None:
    """Resume a paused workflow where it stopped."""
    body = {"reason": reason} if reason else None
    _act(
        session(ctx),
        output,
        f"/api/workflows/{quote(workflow_id, safe='')}/resume",
        body,
        "resumed",
    )


def _task_path(workflow_id: str, task: str, action: str) -> str:
    return f"/api/workflows/{quote(workflow_id, safe='')}/tasks/{quote(task, safe='')}/{action}"


def retry(
    ctx: typer.Context,
    workflow_id: IdArgument,
    task: TaskArgument,
    reason: Reason,
    output: OutputOption = Output.table,
) -> None:
    """Run a failed task again (a new attempt), with the dependents its failure skipped."""
    path = _task_path(workflow_id, task, "retry")
    _act(session(ctx), output, path, {"reason": reason}, f"retrying {task}")


def skip(
    ctx: typer.Context,
    workflow_id: IdArgument,
    task: TaskArgument,
    reason: Reason,
    output: OutputOption = Output.table,
) -> None:
    """Count a failed or not yet started task as done, without outputs."""
    path = _task_path(workflow_id, task, "skip")
    _act(session(ctx), output, path, {"reason": reason}, f"skipped {task}")


def read_outputs(value: str | None) -> dict[str, Any]:
    """`--outputs`: a JSON object, or `@FILE` (or a path) holding one in JSON or YAML."""
    if value is None:
        return {}
    name = value.removeprefix("@")
    if value.startswith("@") or (not value.lstrip().startswith("{") and Path(name).is_file()):
        from laf_cli import documents  # YAML: loaded only when a file is read

        data = documents.read(name).data
    else:
        try:
            data = json.loads(value)
        except json.JSONDecodeError as exc:
            raise CliError(
                f"--outputs: not JSON (column {exc.colno}: {exc.msg}); pass a JSON object or @FILE",
                USAGE,
            ) from None
    if not isinstance(data, dict):
        raise CliError('--outputs must be a JSON object, like {"volume_ml": 100}', USAGE)
    return data


def complete(
    ctx: typer.Context,
    workflow_id: IdArgument,
    task: TaskArgument,
    reason: Reason,
    outputs: Annotated[
        str | None,
        typer.Option("--outputs", help="The step's results: a JSON object, or @FILE (JSON/YAML)"),
    ] = None,
    output: OutputOption = Output.table,
) -> None:
    """Finish a manual task that awaits an operator, with its outputs."""
    body = {"reason": reason, "outputs": read_outputs(outputs)}
    _act(session(ctx), output, _task_path(workflow_id, task, "complete"), body, f"completed {task}")
