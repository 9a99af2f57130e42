"""The named queries of queries.sql, parsed once at import."""

from __future__ import annotations

import re
from importlib import resources

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
_LEADING_COMMENTS = re.compile(r"^(\s*--[^\n]*\n)+")


def _load() -> dict[str, str]:
    """Each query without the comments above it (they document the file; a query's first
    word names its span in a trace)."""
    text = (resources.files("laf_core.db") / "queries.sql").read_text()
    parts = _NAME.split(text)[1:]
    return {
        name: _LEADING_COMMENTS.sub("", sql.strip() + "\n").strip()
        for name, sql in zip(parts[::2], parts[1::2], strict=True)
    }


class _Queries:
    def __init__(self, queries: dict[str, str]) -> None:
        self._queries = queries

    def __getattr__(self, name: str) -> str:
        try:
            return self._queries[name]
        except KeyError:
            raise AttributeError(f"no query named {name!r} in queries.sql") from None


Q = _Queries(_load())
