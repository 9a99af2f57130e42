"""Structured logging: JSON lines off a terminal, readable lines on one.

A line logged while a service works on a task carries the task's `workflow_id`, `task`,
`attempt` and `trace_id` (`about_task`), so grepping a workflow's id finds every line
about it in every service, whatever the line's own words."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

from laf_core.tracing import trace_id

# What the current asyncio task works on (each task has its own copy of the context).
_ABOUT: ContextVar[dict[str, Any]] = ContextVar("laf_log_about", default={})  # noqa: B039 - never mutated


def about(
    workflow_id: uuid.UUID | None = None, task: str | None = None, attempt: int | None = None
) -> None:
    """From now on, in this asyncio task (and those it starts), lines are about this task
    of this workflow; what is None keeps what was said before."""
    fields = dict(_ABOUT.get())
    if workflow_id is not None:
        fields.update(workflow_id=str(workflow_id), trace_id=trace_id(workflow_id))
    if task is not None:
        fields["task"] = task
    if attempt is not None:
        fields["attempt"] = attempt
    _ABOUT.set(fields)


@contextlib.contextmanager
def about_task(
    workflow_id: uuid.UUID | None, task: str | None = None, attempt: int | None = None
) -> Iterator[None]:
    """Lines logged inside are about this task (see `about`); as they were after."""
    token = _ABOUT.set({})
    try:
        about(workflow_id, task, attempt)
        yield
    finally:
        _ABOUT.reset(token)


_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_ABOUT.get())
        span = trace.get_current_span().get_span_context()
        if span.is_valid:  # the line is about a traced step: join it to its trace
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup_logging(service: str, level: str = "INFO", json_lines: bool | None = None) -> None:
    if json_lines is None:
        json_lines = not sys.stderr.isatty()
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Per-message library chatter stays off the hot path.
    for noisy in ("aio_pika", "aiormq", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
