"""laf token create|list|revoke, laf user create|list|disable|enable."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.markup import escape

from laf_cli import render
from laf_cli.commands.auth import read_password
from laf_cli.errors import USAGE, CliError
from laf_cli.session import Output, OutputOption, session

tokens = typer.Typer(help="API tokens for scripts and services.", no_args_is_help=True)
users = typer.Typer(help="Users and their roles (admin).", no_args_is_help=True)
Roles = Annotated[
    list[str] | None,
    typer.Option("--role", help="viewer, operator, reviewer, admin or runner; repeat for several"),
]


@tokens.command("create")
def create_token(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="What the token is for", show_default=False)],
    role: Roles = None,
    expires_in: Annotated[
        int | None, typer.Option("--expires-in", min=60, help="Seconds; default: until revoked")
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="For another user (admin), e.g. a runner")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the secret")] = False,
    output: OutputOption = Output.table,
) -> None:
    """Make an API token; its secret is shown this once."""
    s = session(ctx)
    body: dict[str, Any] = {"name": name}
    if role:
        body["roles"] = role
    if expires_in is not None:
        body["expires_in_s"] = expires_in
    if user:
        body["user"] = user
    made = s.api.post("/api/tokens", body)
    if quiet:
        s.plain(made["token"])
        return
    s.emit(
        output,
        made,
        f"token {escape(str(made.get('name')))} [dim]{made.get('id')}[/] for "
        f"{escape(str(made.get('owner')))} (roles: {', '.join(made.get('roles') or [])}), "
        f"expires {render.when(made.get('expires_at')) if made.get('expires_at') else 'never'}:\n"
        f"{made['token']}\n[yellow]the secret is shown only now[/]",
    )


@tokens.command("list")
def list_tokens(ctx: typer.Context, output: OutputOption = Output.table) -> None:
    """Your API tokens and sessions (an admin sees everyone's); never their secrets."""
    s = session(ctx)
    items = s.api.get("/api/tokens")
    s.emit(output, items, render.tokens(items))


@tokens.command("revoke")
def revoke_token(
    ctx: typer.Context,
    token_id: Annotated[str, typer.Argument(help="The token's id (from `laf token list`)")],
    output: OutputOption = Output.table,
) -> None:
    """Revoke a token at once: its next request is refused."""
    s = session(ctx)
    revoked = s.api.delete(f"/api/tokens/{quote(token_id, safe='')}")
    s.emit(
        output,
        revoked,
        f"revoked token {escape(str(revoked.get('name')))} [dim]{revoked.get('id')}[/]",
    )


@users.command("create")
def create_user(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Lower-case letters, digits, . _ -")],
    role: Roles = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin")
    ] = False,
    service: Annotated[
        bool, typer.Option("--service-account", help="No password: for tokens only (runners)")
    ] = False,
    output: OutputOption = Output.table,
) -> None:
    """Create a user (the password is asked for, twice)."""
    if not role:
        raise CliError("give the user at least one --role", USAGE)
    if service and password_stdin:
        raise CliError("a service account has no password: drop --password-stdin", USAGE)
    s = session(ctx)
    body: dict[str, Any] = {"name": name, "roles": role}
    if not service:
        body["password"] = read_password(password_stdin, confirm=True)
    made = s.api.post("/api/users", body)
    s.emit(
        output,
        made,
        f"created user {escape(str(made.get('name')))} (roles: {', '.join(made.get('roles') or [])})",
    )


@users.command("list")
def list_users(ctx: typer.Context, output: OutputOption = Output.table) -> None:
    """Every user, with roles, and whether disabled or locked out."""
    s = session(ctx)
    items = s.api.get("/api/users")
    s.emit(output, items, render.users(items))


def _set_disabled(ctx: typer.Context, name: str, disabled: bool, output: Output) -> None:
    s = session(ctx)
    user = s.api.patch(f"/api/users/{quote(name, safe='')}", {"disabled": disabled})
    word = "disabled (every token of theirs stops working)" if disabled else "enabled"
    s.emit(output, user, f"user {escape(str(user.get('name')))} {word}")


@users.command("disable")
def disable_user(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user's name")],
    output: OutputOption = Output.table,
) -> None:
    """Disable a user: every token of theirs stops working at once."""
    _set_disabled(ctx, name, True, output)


@users.command("enable")
def enable_user(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user's name")],
    output: OutputOption = Output.table,
) -> None:
    """Enable a disabled user again."""
    _set_disabled(ctx, name, False, output)
