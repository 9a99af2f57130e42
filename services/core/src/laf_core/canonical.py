"""One canonical JSON form for everything LAF hashes: workflow documents, a report's
outputs, a workflow's results, checkpoints. Keys sorted, no spaces, UTF-8; the same
bytes on the runner that declares a hash and on the API that checks it."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def sha256_of(value: Any) -> str:
    """The hex SHA-256 of `value`'s canonical JSON."""
    return hashlib.sha256(canonical_json(value)).hexdigest()
