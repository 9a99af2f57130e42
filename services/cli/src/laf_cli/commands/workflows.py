"""laf validate, submit, list, show, watch, history."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import typer
from rich.markup import escape

from laf_cli import render
from laf_cli import watch as following
from laf_cli.client import AsyncApi
from laf_cli.errors import INTERRUPTED, OK, REFUSED, USAGE, WORKFLOW_FAILED, CliError
from laf_cli.session import Output, OutputOption, Session, session

if TYPE_CHECKING:
    from laf_cli.documents import Document

FileArgument = Annotated[
    str, typer.Argument(help="The workflow document: JSON or YAML (`-`: stdin)", show_default=False)
]
IdArgument = Annotated[str, typer.Argument(help="The workflow's id", show_default=False)]
IntervalOption = Annotated[
    float,
    typer.Option("--interval", min=0.2, help="Seconds between reads when there is no event stream"),
]


def _checked(s: Session, name: str) -> Document:
    # YAML and JSON Schema are loaded only by the commands that read files.
    from laf_cli import documents

    document = documents.read(name)
    schema = s.api.get("/api/schemas/workflow")
    documents.check(document, schema)
    return document


def validate(ctx: typer.Context, file: FileArgument) -> None:
    """Check a workflow document against the API's schema without submitting it."""
    s = session(ctx)
    _checked(s, file)
    s.out.print(f"{escape(file)}: valid")


def submit(
    ctx: typer.Context,
    file: FileArgument,
    wait: Annotated[bool, typer.Option("--wait", "-w", help="Follow it like `laf watch`")] = False,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            "--idempotency-key", help="A repeat with the same key returns the first workflow"
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the id")] = False,
    interval: IntervalOption = 1.0,
    output: OutputOption = Output.table,
) -> None:
    """Submit a workflow document (checked here first: errors as FILE:LINE:COL)."""
    s = session(ctx)
    document = _checked(s, file)
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    try:
        workflow, code = s.api.send("POST", "/api/workflows", json=document.data, headers=headers)
    except CliError as exc:
        placed = _placed(document, exc)
        if placed is None:
            raise
        from laf_cli.documents import DocumentError

        raise DocumentError(placed, REFUSED) from None
    if wait:
        if not quiet and output is Output.table:
            s.note(f"submitted {workflow['id']}")
        _watch(s, str(workflow["id"]), output, interval)
        return
    if quiet:
        s.plain(str(workflow["id"]))
        return
    again = " (already submitted with this Idempotency-Key)" if code == 200 else ""
    s.emit(
        output,
        workflow,
        f"submitted {workflow['id']} ({escape(str(workflow.get('name')))}){again}: "
        f"{workflow.get('status')}, {len(workflow.get('tasks') or [])} tasks",
    )


def _placed(document: Document, exc: CliError) -> list[str] | None:
    """A 422 about the document, each error placed in the file."""
    response = exc.response
    if response is None or response.status_code != 422:
        return None
    try:
        detail = response.json().get("detail")
    except ValueError:
        return None
    from laf_cli.documents import api_problems

    return api_problems(document, detail)


def list_workflows(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option("--status", help="pending, running, paused, succeeded, …")
    ] = None,
    label: Annotated[
        list[str] | None, typer.Option("--label", "-l", help="key=value; repeat for several")
    ] = None,
    search: Annotated[str | None, typer.Option("--search", "-s", help="Part of the name")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many")] = 50,
    cursor: Annotated[str | None, typer.Option("--cursor", help="Where a page ended")] = None,
    output: OutputOption = Output.table,
) -> None:
    """Workflows, newest first."""
    s = session(ctx)
    for item in label or []:
        if "=" not in item or item.startswith("="):
            raise CliError(f"--label {item!r} must look like key=value", USAGE)
    items: list[dict[str, Any]] = []
    next_cursor = cursor
    while len(items) < limit:
        page = s.api.get(
            "/api/workflows",
            status=status,
            label=label or None,
            q=search,
            cursor=next_cursor,
            limit=min(200, limit - len(items)),
        )
        items += page.get("items", [])
        next_cursor = page.get("next_cursor")
        if not next_cursor:
            break
    document = {"items": items, "next_cursor": next_cursor}
    s.emit(output, document, render.workflow_list(items, next_cursor))


def show(ctx: typer.Context, workflow_id: IdArgument, output: OutputOption = Output.table) -> None:
    """A workflow: its tasks, their states, attempts, outputs and errors."""
    s = session(ctx)
    workflow = s.api.get(f"/api/workflows/{quote(workflow_id, safe='')}")
    s.emit(output, workflow, render.workflow_detail(workflow))


def history(
    ctx: typer.Context, workflow_id: IdArgument, output: OutputOption = Output.table
) -> None:
    """Every state change of the workflow and its tasks, oldest first, with who and why."""
    s = session(ctx)
    entries = s.api.get(f"/api/workflows/{quote(workflow_id, safe='')}/history")
    s.emit(output, entries, render.history(entries))


def watch(
    ctx: typer.Context,
    workflow_id: IdArgument,
    interval: IntervalOption = 1.0,
    output: OutputOption = Output.table,
) -> None:
    """Follow a workflow live until it ends. Exit 0: succeeded; 1: failed or cancelled."""
    _watch(session(ctx), workflow_id, output, interval)


def _watch(s: Session, workflow_id: str, output: Output, interval: float) -> None:
    if output is Output.json:
        display: Any = following.Silent()
    elif s.out.is_terminal:
        display = following.LiveBoard(s.out)
    else:
        display = following.ChangeLog(s.out)

    async def run() -> dict[str, Any]:
        api = AsyncApi(s.target)
        try:
            with display:
                return await following.follow(api, workflow_id, display.show, interval)
        finally:
            await api.aclose()

    try:
        workflow = asyncio.run(run())
    except KeyboardInterrupt:
        raise CliError("stopped watching (the workflow goes on)", INTERRUPTED) from None
    if output is Output.json:
        s.emit(output, workflow, "")
    else:
        _ending(s, workflow, display)
    raise typer.Exit(OK if workflow.get("status") == "succeeded" else WORKFLOW_FAILED)


def _ending(s: Session, workflow: dict[str, Any], display: Any) -> None:
    if isinstance(display, following.ChangeLog):
        s.out.print(render.task_table(workflow.get("tasks") or [], title=None))
    took = render.duration(workflow.get("started_at"), workflow.get("finished_at"))
    s.out.print(
        f"workflow {escape(str(workflow.get('name')))} [dim]{workflow.get('id')}[/] ",
        render.status(workflow.get("status")),
        f" in {took}" if took != "-" else "",
        sep="",
    )
    for task in workflow.get("tasks") or []:
        if task.get("status") == "failed":
            s.out.print(
                f"  [red]{escape(str(task.get('name')))}: {escape(str(task.get('error')))}[/]"
            )
