"""LAF's API tokens as text: how one is made, stored and carried.

A token is `laf_` and 43 URL-safe characters (256 random bits). Only its SHA-256
digest is stored, and a request's token is looked up by its digest, so a copy of
the database holds no usable credential. Pods' per-attempt tokens
(`task_tokens`) have no prefix, which is how the API tells them apart.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "laf_"
AUTH_SCHEME = "Bearer"


def new_token() -> tuple[str, str]:
    """A fresh token secret and the digest that is stored in its place."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return secret, digest(secret)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == AUTH_SCHEME.lower() else None
