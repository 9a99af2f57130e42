"""References to large raw data kept by content hash (POST /api/blobs): in a task's
outputs, {"$blob": "sha256:<hex>", "size": n, "media_type": "..."} stands for the data."""

from __future__ import annotations

from typing import Any

KEY = "$blob"
PREFIX = "sha256:"


def reference(sha256: str, size: int, media_type: str) -> dict[str, Any]:
    return {KEY: PREFIX + sha256, "size": size, "media_type": media_type}


def referenced(value: Any) -> set[str]:
    """The hashes every reference inside `value` names."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get(KEY)
            if isinstance(ref, str) and ref.startswith(PREFIX):
                found.add(ref.removeprefix(PREFIX))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found
