"""The tail of a task's log: kept in its outputs, its last line in its error message."""

from __future__ import annotations

from pathlib import Path

TAIL_BYTES = 4000


def tail(log: bytes) -> str:
    """The last TAIL_BYTES of a log, as text."""
    return log[-TAIL_BYTES:].decode(errors="replace")


def file_tail(path: Path) -> str:
    """tail() of a file, read from its end (a task may write gigabytes); "" if there is none."""
    try:
        with path.open("rb") as stream:
            stream.seek(max(0, path.stat().st_size - TAIL_BYTES))
            return tail(stream.read())
    except FileNotFoundError:
        return ""


def last_line(text: str) -> str:
    """The last line that says something, "" if none does."""
    return next((line for line in reversed(text.splitlines()) if line.strip()), "")
