"""The `laf` command tree and its one way out: a message and an exit code, no traceback.

Global options (`--url`, `--token`, `--no-color`) go before the command; `--output
json` after it, on every command that answers with data.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

from laf_cli.commands import admin, auth, control, lab, workflows
from laf_cli.errors import CliError
from laf_cli.session import Session, console

app = typer.Typer(
    name="laf",
    help="LAF, the Laboratory Automation Framework, from the command line. "
    "URL and token: --url/--token, then LAF_URL/LAF_TOKEN, then `laf login`'s saved session.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # a traceback's locals could show a token
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def main(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option("--url", help="The API, e.g. http://127.0.0.1:8000 (else LAF_URL)"),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", help="A LAF token (else LAF_TOKEN, else the saved login)"),
    ] = None,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colours (also NO_COLOR)")
    ] = False,
) -> None:
    session = Session(url, token, no_color)
    ctx.obj = session
    ctx.call_on_close(session.close)


app.command("login")(auth.login)
app.command("logout")(auth.logout)
app.command("whoami")(auth.whoami)
app.command("validate")(workflows.validate)
app.command("submit")(workflows.submit)
app.command("list")(workflows.list_workflows)
app.command("show")(workflows.show)
app.command("watch")(workflows.watch)
app.command("history")(workflows.history)
app.command("cancel")(control.cancel)
app.command("pause")(control.pause)
app.command("resume")(control.resume)
app.command("retry")(control.retry)
app.command("skip")(control.skip)
app.command("complete")(control.complete)
app.add_typer(lab.app, name="instruments")
app.add_typer(admin.tokens, name="token")
app.add_typer(admin.users, name="user")


def run() -> None:
    """The console script: known failures as one line on stderr with their exit code."""
    try:
        app()
    except CliError as exc:
        prefix = "" if exc.bare else "[bold red]laf:[/] "
        console("--no-color" in sys.argv[1:], stderr=True).print(
            f"{prefix}{escape(exc.message)}", soft_wrap=True
        )
        sys.exit(exc.exit_code)
