"""laf login, logout, whoami."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

from laf_cli import render
from laf_cli.client import Api
from laf_cli.config import Target, config_path, normal_url, read_config, write_config
from laf_cli.errors import USAGE, CliError, Unreachable, detail_of
from laf_cli.session import Output, OutputOption, session


def read_password(from_stdin: bool, confirm: bool = False) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CliError("no password on stdin", USAGE)
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=confirm))


def login(
    ctx: typer.Context,
    username: Annotated[
        str | None, typer.Option("--username", "-u", help="Asked for when not given")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin (scripts)")
    ] = False,
) -> None:
    """Log in with a name and password; the session token is saved (mode 0600)."""
    s = session(ctx)
    url = s.target.url
    name = username or str(typer.prompt("Username"))
    password = read_password(password_stdin)
    api = Api(Target(url, s.target.url_from, None, None))
    try:
        answer = api.post("/api/auth/login", {"username": name, "password": password})
    except CliError as exc:
        if exc.response is not None and exc.response.status_code == 401:
            raise CliError(f"login refused: {detail_of(exc.response)}") from None
        raise
    finally:
        api.close()
    user = answer.get("user") or {}
    path = write_config(
        {
            "url": url,
            "token": answer["token"],
            "user": user.get("name", name),
            "expires_at": answer.get("expires_at"),
        }
    )
    roles = ", ".join(user.get("roles") or []) or "none"
    s.out.print(
        f"logged in to {url} as [bold]{escape(str(user.get('name', name)))}[/] "
        f"(roles: {roles}) until {render.when(answer.get('expires_at'))}"
    )
    s.note(f"[dim]saved in {path}[/]")
    if s.target.token_from in ("--token", "LAF_TOKEN"):
        s.note(f"note: {s.target.token_from} is set and goes before this login")


def logout(ctx: typer.Context) -> None:
    """End the saved session (the API revokes its token) and forget it."""
    s = session(ctx)
    saved = read_config()
    if not saved.get("token"):
        s.out.print("not logged in")
        return
    url = normal_url(str(saved.get("url") or s.target.url))
    remaining = {k: v for k, v in saved.items() if k in ("url",)}
    api = Api(Target(url, str(config_path()), str(saved["token"]), str(config_path())))
    try:
        api.post("/api/auth/logout")
    except Unreachable:
        write_config(remaining)
        raise CliError(
            f"forgot the saved token, but could not reach {url} to end the session; "
            f"it stays valid until {render.when(saved.get('expires_at'))}",
            USAGE,
        ) from None
    except CliError:
        pass  # already expired or revoked: forgetting it is all there is left to do
    finally:
        api.close()
    write_config(remaining)
    s.out.print(f"logged out of {url}")


def whoami(ctx: typer.Context, output: OutputOption = Output.table) -> None:
    """Who the credential belongs to, its roles, and where the URL and token came from."""
    s = session(ctx)
    me = s.api.get("/api/auth/me")
    document = {**me, "url": s.target.url, "token_from": s.target.token_from}
    roles = ", ".join(me.get("roles") or []) or "none"
    view = (
        f"[bold]{escape(str(me.get('name')))}[/] (roles: {roles}) at {s.target.url}\n"
        f"[dim]url from {s.target.url_from}; token from {s.target.token_from or 'nowhere'}[/]"
    )
    if me.get("open_mode"):
        view += "\n[bold red]open mode (LAF_AUTH=off): the API asks no one for credentials[/]"
    s.emit(output, document, view)
