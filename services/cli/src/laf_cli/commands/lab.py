"""laf instruments: the lab board, an instrument's status, its history."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.markup import escape

from laf_cli import render
from laf_cli.errors import USAGE, CliError
from laf_cli.session import Output, OutputOption, session

app = typer.Typer(
    help="The lab's instruments: who is using each and who waits (no command: the board).",
    invoke_without_command=True,
    no_args_is_help=False,
)
InstrumentArgument = Annotated[str, typer.Argument(help="The instrument's id", show_default=False)]


@app.callback()
def board(ctx: typer.Context, output: OutputOption = Output.table) -> None:
    """The lab board: each instrument's status, the tasks on it now and its queue."""
    if ctx.invoked_subcommand is not None:
        return
    s = session(ctx)
    items = s.api.get("/api/instruments")
    s.emit(output, items, render.instruments(items))


@app.command("set")
def set_instrument(
    ctx: typer.Context,
    instrument_id: InstrumentArgument,
    status: Annotated[
        str | None, typer.Option("--status", help="online, offline or maintenance")
    ] = None,
    capacity: Annotated[
        int | None, typer.Option("--capacity", min=1, help="Tasks it may hold at once")
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", "-r", help="Why (kept in its history)")
    ] = None,
    output: OutputOption = Output.table,
) -> None:
    """Change an instrument's status or capacity (admin)."""
    change: dict[str, Any] = {}
    if status is not None:
        change["status"] = status
    if capacity is not None:
        change["capacity"] = capacity
    if not change:
        raise CliError("say what to change: --status and/or --capacity", USAGE)
    if reason:
        change["reason"] = reason
    s = session(ctx)
    item = s.api.patch(f"/api/instruments/{quote(instrument_id, safe='')}", change)
    s.emit(
        output,
        item,
        f"instrument {escape(str(item.get('id')))} is {item.get('status')}, "
        f"capacity {item.get('capacity')}",
    )


@app.command("history")
def instrument_history(
    ctx: typer.Context, instrument_id: InstrumentArgument, output: OutputOption = Output.table
) -> None:
    """Every change of an instrument, with who made it and why."""
    s = session(ctx)
    entries = s.api.get(f"/api/instruments/{quote(instrument_id, safe='')}/history")
    s.emit(output, entries, render.instrument_history(entries))
