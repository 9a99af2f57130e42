"""An authenticated caller, and the 401 that answers a missing or bad credential."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException

from laf_core.contracts.roles import effective


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. `actor` is what the history records (`user:alice`)."""

    name: str
    roles: frozenset[str]  # as granted; `effective` adds the included ones
    token_id: str | None = None
    via: str = "token"  # token | cookie | oidc | open

    @property
    def actor(self) -> str:
        return f"user:{self.name}"

    def holds(self, role: str) -> bool:
        return role in effective(self.roles)


def unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": 'Bearer realm="laf"'})
