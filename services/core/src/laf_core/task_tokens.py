"""Per-attempt tokens: how a Kubernetes Job's pod reports its own result.

A pod must not hold the webhook secret (it could then sign anything), so the
runner gives it a token derived from the secret that is good for one attempt
of one task only: HMAC-SHA256 over "task-token:<task id>:<attempt>". The API
recomputes it, so nothing is stored; once the attempt has ended, the token
can change nothing (every report about an ended attempt is a 409).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

AUTH_SCHEME = "Bearer"


def task_token(secret: str, task_id: uuid.UUID, attempt: int) -> str:
    message = f"task-token:{task_id}:{attempt}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def token_matches(secret: str, task_id: uuid.UUID, attempt: int, token: str) -> bool:
    return hmac.compare_digest(task_token(secret, task_id, attempt), token)


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == AUTH_SCHEME.lower() else None
