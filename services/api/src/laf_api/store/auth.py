"""Users and tokens: passwords (argon2id), logins with lock-out, session and API tokens.

Token secrets are never stored: only their SHA-256 digest, which is what a request's
token is looked up by. Hashing a password costs ~50 ms of CPU, so it runs in a thread.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from laf_api.errors import NotFound, Refused
from laf_api.schemas import TokenOut, UserIn, UserOut, UserPatch
from laf_core.contracts.roles import effective
from laf_core.db.pool import Connection
from laf_core.db.queries import Q

_hasher = PasswordHasher()
# Verified against when the user does not exist, so an unknown name takes as long as a
# wrong password (no user enumeration by timing).
_NOBODY = _hasher.hash("no such user")


@dataclass(frozen=True)
class TokenOwner:
    name: str
    roles: frozenset[str]
    token_id: str
    expires_at: datetime | None = None


class LoginRefused(Exception):
    """Wrong name or password, or a disabled account (401; the message does not say which)."""


class LoginLocked(Exception):
    """Too many failed logins: the account is locked until `until` (429)."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"too many failed logins: the account is locked until {until.isoformat()}")
        self.until = until


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def _password_matches(stored: str | None, given: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(stored or _NOBODY, given) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


async def principal_of(conn: Connection, digest: str) -> TokenOwner | None:
    row = await conn.fetchrow(Q.token_principal, digest)
    if row is None:
        return None
    await conn.execute(Q.touch_token, row["id"])
    still = effective(row["owner_roles"])
    roles = frozenset(r for r in row["roles"] if r in still)
    return TokenOwner(row["name"], roles, str(row["id"]), row["expires_at"])


async def login(
    conn: Connection, name: str, password: str, max_failures: int, lockout_s: float
) -> list[str]:
    """The user's roles when `password` is theirs; raises LoginRefused or LoginLocked."""
    user = await conn.fetchrow(Q.user_for_login, name)
    matches = await _password_matches(user["password_hash"] if user else None, password)
    if user is None:
        raise LoginRefused()
    if user["locked"]:
        raise LoginLocked(user["locked_until"])
    if not matches:
        failed = await conn.fetchrow(Q.login_failed, name, max_failures, lockout_s)
        if failed is not None and failed["locked"]:
            raise LoginLocked(failed["locked_until"])
        raise LoginRefused()
    if user["disabled"]:
        raise LoginRefused()
    await conn.execute(Q.login_succeeded, name)
    return list(user["roles"])


async def create_token(
    conn: Connection,
    digest: str,
    kind: str,
    name: str,
    owner: str,
    roles: list[str],
    expires_in_s: float | None,
) -> TokenOut:
    row = await conn.fetchrow(
        Q.insert_token, uuid.uuid4(), digest, kind, name, owner, roles, expires_in_s
    )
    assert row is not None  # INSERT … RETURNING
    return TokenOut(**dict(row))


async def user_roles(conn: Connection, name: str) -> list[str]:
    roles = await conn.fetchval(Q.user_roles, name)
    if roles is None:
        raise NotFound(f"no user '{name}' (or it is disabled)")
    return list(roles)


async def list_tokens(conn: Connection, owner: str | None) -> list[TokenOut]:
    return [TokenOut(**dict(r)) for r in await conn.fetch(Q.list_tokens, owner)]


async def revoke_token(conn: Connection, token_id: uuid.UUID, owner: str | None) -> TokenOut:
    row = await conn.fetchrow(Q.revoke_token, token_id, owner)
    if row is None:
        raise NotFound(f"no token {token_id}" + ("" if owner is None else " of yours"))
    return TokenOut(**dict(row))


async def create_user(conn: Connection, user: UserIn, created_by: str) -> UserOut:
    hashed = await hash_password(user.password) if user.password is not None else None
    row = await conn.fetchrow(
        Q.insert_user, user.name, hashed, user.roles, created_by, user.full_name
    )
    if row is None:
        raise Refused(f"user '{user.name}' exists; PATCH it to change it")
    return UserOut(**dict(row))


async def list_users(conn: Connection) -> list[UserOut]:
    return [UserOut(**dict(r)) for r in await conn.fetch(Q.list_users)]


async def update_user(conn: Connection, name: str, change: UserPatch) -> UserOut:
    hashed = await hash_password(change.password) if change.password is not None else None
    row = await conn.fetchrow(
        Q.update_user, name, change.roles, change.disabled, hashed, change.full_name
    )
    if row is None:
        raise NotFound(f"no user '{name}'")
    return UserOut(**dict(row))
