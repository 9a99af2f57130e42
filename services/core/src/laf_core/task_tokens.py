"""Per-attempt tokens: how a Kubernetes Job's pod reports its own result.

A pod must not hold the webhook secret (it could then sign anything), so the
runner gives it a token derived from the secret that is good for one attempt
of one task only: HMAC-SHA256 over "task-token:<task id>:<attempt>" with a key
derived for this use (`signing.derive`), never the signing key itself. The API
recomputes it, so nothing is stored; once the attempt has ended, the token
can change nothing (every report about an ended attempt is a 409).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

from laf_core.signing import derive


def task_token(secret: str, task_id: uuid.UUID, attempt: int) -> str:
    message = f"task-token:{task_id}:{attempt}".encode()
    return hmac.new(derive(secret, "task-token"), message, hashlib.sha256).hexdigest()


def token_matches(secret: str, task_id: uuid.UUID, attempt: int, token: str) -> bool:
    return hmac.compare_digest(task_token(secret, task_id, attempt), token)
