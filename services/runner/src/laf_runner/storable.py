"""Making a result storable before it leaves the runner (pure; no I/O).

Whatever a task produced, its report must be one the API can store, or the
runner would retry it forever (a 500) or lose it (a 422). At the edge:

- NUL characters (which PostgreSQL cannot store in text or JSONB) become the
  visible text ``\\u0000``, in strings and in keys; unpaired surrogates (which
  JSONB refuses too) become U+FFFD.
- NaN and ±Infinity are not JSON: outputs holding one are refused with a task
  error naming where (`outputs.peaks[2].area is NaN, which JSON cannot hold`).
- Nesting is bounded (`MAX_DEPTH` levels).
- An error message is cut to `ERROR_LIMIT` characters, with a marker saying how
  much was cut; the API refuses more than 20,000
  (`laf_core.contracts.reports.FailedReport.error`).
"""

from __future__ import annotations

import math
import re
from typing import Any

MAX_DEPTH = 64
ERROR_LIMIT = 16_000
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_NUL_TEXT = "\\u0000"


class NotStorable(ValueError):
    """The outputs hold something that cannot be stored as JSON; the message says where."""


def _fix(match: re.Match[str]) -> str:
    return _NUL_TEXT if match.group() == "\x00" else "\ufffd"


def text(value: str) -> str:
    """`value` with NUL characters escaped and unpaired surrogates replaced."""
    return _UNSTORABLE.sub(_fix, value) if _UNSTORABLE.search(value) else value


def outputs(value: dict[str, Any], where: str = "outputs") -> dict[str, Any]:
    """A storable copy of a task's outputs, or NotStorable saying what and where."""
    result = _value(value, where, 0)
    assert isinstance(result, dict)
    return result


def _value(value: Any, where: str, depth: int) -> Any:
    if isinstance(value, str):
        return text(value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        name = "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
        raise NotStorable(f"{where} is {name}, which JSON cannot hold")
    if depth >= MAX_DEPTH:
        raise NotStorable(f"{where} is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        fixed: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotStorable(f"{where} has a key that is not a string: {key!r:.50}")
            name = text(key)
            fixed[name] = _value(item, f"{where}.{name[:50]}", depth + 1)
        return fixed
    if isinstance(value, list | tuple):
        return [_value(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)]
    raise NotStorable(f"{where} is a {type(value).__name__}, not a JSON value")


def error(message: str, limit: int = ERROR_LIMIT) -> str:
    """An error message the API stores: escaped, never empty, at most `limit` characters."""
    message = text(message) or "failed (no message)"
    if len(message) <= limit:
        return message
    keep = limit - 64  # room for the marker, whatever the count's width
    return message[:keep] + f" … [cut: {len(message) - keep:,} more characters]"
