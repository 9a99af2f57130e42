"""`laf-admin`: bootstrap users and tokens straight in the database (a fresh install has
no one to log in as yet).

    laf-admin create-user alice --role admin          # password from stdin or LAF_ADMIN_PASSWORD
    laf-admin create-token runner-1 --user runner --role runner --out runner.token
    laf-admin verify-audit [--workflow ID]            # exit 0 when the record is intact

`create-user` of an existing name sets its password and roles (and enables it).
`create-token` makes the user first when it does not exist, as a service account
without a password holding the token's roles.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import sys
import uuid
from pathlib import Path

import asyncpg
from pydantic import TypeAdapter, ValidationError

from laf_api import audit
from laf_api.schemas import AuditVerdict, Password, UserIn, UserName, UserPatch
from laf_api.store import auth as store
from laf_core.contracts.roles import ROLES
from laf_core.credentials import new_token
from laf_core.db.pool import Connection, connect
from laf_core.files import write_private
from laf_core.settings import CommonSettings

log = logging.getLogger(__name__)
ACTOR = "admin-cli"


async def ensure_user(conn: Connection, name: str, password: str | None, roles: list[str]) -> None:
    """Create the user, or set its password (when given) and roles and enable it."""
    exists = await conn.fetchval("SELECT count(*) FROM users WHERE name = $1", name)
    if not exists:
        user = UserIn.model_validate({"name": name, "password": password, "roles": roles})
        await store.create_user(conn, user, ACTOR)
    else:
        change = UserPatch.model_validate({"roles": roles, "disabled": False, "password": password})
        await store.update_user(conn, name, change)


async def issue_token(
    conn: Connection, name: str, owner: str, roles: list[str], expires_in_s: float | None = None
) -> str:
    """An API token for `owner` (made a password-less service account if missing)."""
    if not await conn.fetchval("SELECT count(*) FROM users WHERE name = $1", owner):
        account = UserIn.model_validate({"name": owner, "password": None, "roles": roles})
        await store.create_user(conn, account, ACTOR)
    secret, digest = new_token()
    await store.create_token(conn, digest, "api", name, owner, roles, expires_in_s)
    return secret


def _password(args: argparse.Namespace) -> str:
    given = os.environ.get("LAF_ADMIN_PASSWORD")
    if given is None:
        if sys.stdin.isatty():
            given = getpass.getpass(f"password for {args.name}: ")
        else:
            given = sys.stdin.readline().rstrip("\n")
    TypeAdapter(Password).validate_python(given)
    return given


async def _main(args: argparse.Namespace, password: str | None) -> str | None:
    """Do the command; returns a new token's secret, or verify-audit's verdict (JSON)."""
    settings = CommonSettings()
    conn = await connect(settings.database_url)
    try:
        if args.command == "verify-audit":
            key = audit.checkpoint_key(settings.signing_secret())
            verdict = await audit.verify(conn, key, args.workflow)
            return AuditVerdict.model_validate(verdict).model_dump_json(exclude_none=True)
        if args.command == "create-user":
            await ensure_user(conn, args.name, password, args.role)
            return None
        return await issue_token(conn, args.name, args.user, args.role, args.expires_in_s)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="laf-admin", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    user = commands.add_parser("create-user", help="create a user, or reset its password")
    user.add_argument("name")
    user.add_argument("--role", action="append", choices=ROLES, required=True)
    token = commands.add_parser("create-token", help="an API token (e.g. for a runner)")
    token.add_argument("name", help="what the token is for")
    token.add_argument("--user", required=True, help="its owner (made if missing)")
    token.add_argument("--role", action="append", choices=ROLES, required=True)
    token.add_argument("--expires-in-s", type=float, default=None)
    token.add_argument("--out", help="write the secret to this file (mode 0600)")
    check = commands.add_parser(
        "verify-audit", help="walk the history chains and signed checkpoints (needs the secret)"
    )
    check.add_argument("--workflow", type=uuid.UUID, help="only this workflow's chains")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    try:
        password = None
        if args.command == "create-user":
            TypeAdapter(UserName).validate_python(args.name)
            password = _password(args)
        secret = asyncio.run(_main(args, password))
    except ValidationError as exc:
        sys.exit(f"laf-admin: {exc.errors()[0]['msg']}")
    except (OSError, ValueError, asyncpg.PostgresError) as exc:
        sys.exit(f"laf-admin: {exc}")
    if args.command == "verify-audit":
        print(secret)  # noqa: T201 - the verdict, one JSON document
        sys.exit(0 if secret and json.loads(secret)["ok"] else 1)
    if secret is None:
        print(f"user {args.name} ready with roles {', '.join(args.role)}")  # noqa: T201
    elif args.out:
        write_private(Path(args.out), secret + "\n")
        print(f"token {args.name} for {args.user} written to {args.out}")  # noqa: T201
    else:
        print(secret)  # noqa: T201
