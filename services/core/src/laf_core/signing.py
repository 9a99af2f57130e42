"""HMAC-SHA256 signatures for webhook reports (DESIGN §6): one function signs, one verifies.

The signature covers the timestamp, a nonce, the method, the path and the exact
body bytes, so a captured report cannot be altered, sent to another endpoint, nor
replayed: the timestamp must be within the window (either direction), and the
verifier remembers the signatures it accepted within the window (`ReplayCache`).
"""

from __future__ import annotations

import collections
import functools
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping

TIMESTAMP_HEADER = "X-LAF-Timestamp"
NONCE_HEADER = "X-LAF-Nonce"
SIGNATURE_HEADER = "X-LAF-Signature"

_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
_NONCE = re.compile(r"[0-9a-f]{16,64}", re.ASCII)


@functools.lru_cache(maxsize=8)
def derive(secret: str, purpose: str) -> bytes:
    """A key for one use, derived from the secret (HMAC-SHA256 as a KDF), so the key that
    signs webhooks is never the one that makes task tokens, nor the secret itself."""
    return hmac.new(secret.encode(), b"laf/" + purpose.encode(), hashlib.sha256).digest()


class SignatureError(Exception):
    """The report is unsigned, mis-signed, replayed or outside the replay window."""


def signature(secret: str, timestamp: str, nonce: str, method: str, path: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC(key, "timestamp.nonce.METHOD.path." + body)."""
    key = derive(secret, "webhook-signature")
    signed = f"{timestamp}.{nonce}.{method.upper()}.{path}.".encode() + body
    return "sha256=" + hmac.new(key, signed, hashlib.sha256).hexdigest()


def sign_headers(
    secret: str, method: str, path: str, body: bytes, now: float | None = None
) -> dict[str, str]:
    """The headers that sign one request: `path` is the URL's path as the API routes it
    (e.g. /api/webhooks/tasks), without the query string."""
    timestamp = str(int(time.time() if now is None else now))
    nonce = secrets.token_hex(16)
    return {
        TIMESTAMP_HEADER: timestamp,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: signature(secret, timestamp, nonce, method, path, body),
        "Content-Type": "application/json",
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    method: str,
    path: str,
    body: bytes,
    window_s: int = 300,
    now: float | None = None,
) -> str:
    """Raise SignatureError unless `headers` sign this request within the window. Returns
    the signature, for the replay cache."""
    timestamp = headers.get(TIMESTAMP_HEADER)
    nonce = headers.get(NONCE_HEADER)
    given = headers.get(SIGNATURE_HEADER)
    if not timestamp or not given or not nonce:
        raise SignatureError(
            f"missing {TIMESTAMP_HEADER}, {NONCE_HEADER} or {SIGNATURE_HEADER} header"
        )
    if not _TIMESTAMP.fullmatch(timestamp):
        raise SignatureError(f"{TIMESTAMP_HEADER} must be Unix seconds, digits only")
    if not _NONCE.fullmatch(nonce):
        raise SignatureError(f"{NONCE_HEADER} must be 16 to 64 lower-case hex digits")
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > window_s:
        raise SignatureError("timestamp outside the replay window")
    if not hmac.compare_digest(signature(secret, timestamp, nonce, method, path, body), given):
        raise SignatureError("signature does not match")
    return given


class ReplayCache:
    """The signatures accepted within the window: a second use of one is a replay. Bounded:
    past `max_entries` the oldest are forgotten (they are that close to expiring)."""

    def __init__(self, window_s: float, max_entries: int = 200_000) -> None:
        self.window_s = window_s
        self.max_entries = max_entries
        self._seen: collections.OrderedDict[str, float] = collections.OrderedDict()

    def first_use(self, signature: str, now: float | None = None) -> bool:
        """True the first time `signature` is seen within the window (and remembers it)."""
        current = time.monotonic() if now is None else now
        while self._seen:
            oldest, seen_at = next(iter(self._seen.items()))
            if seen_at > current - 2 * self.window_s and len(self._seen) < self.max_entries:
                break
            del self._seen[oldest]
        if signature in self._seen:
            return False
        self._seen[signature] = current
        return True
