"""HMAC-SHA256 signatures for webhook reports (DESIGN §6).

The signature covers the timestamp and the exact body bytes, so a captured
report cannot be replayed outside the window nor altered.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-LAF-Timestamp"
SIGNATURE_HEADER = "X-LAF-Signature"


class SignatureError(Exception):
    """The report is unsigned, mis-signed or outside the replay window."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def sign_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if now is None else now))
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        "Content-Type": "application/json",
    }


def verify(
    secret: str,
    timestamp: str | None,
    given: str | None,
    body: bytes,
    window_s: int = 300,
    now: float | None = None,
) -> None:
    if not timestamp or not given:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise SignatureError(f"{TIMESTAMP_HEADER} must be Unix seconds") from None
    current = time.time() if now is None else now
    if abs(current - sent_at) > window_s:
        raise SignatureError("timestamp outside the replay window")
    if not hmac.compare_digest(signature(secret, timestamp, body), given):
        raise SignatureError("signature does not match")
