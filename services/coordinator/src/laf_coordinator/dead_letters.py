"""A dead letter as a row PostgreSQL can always store: text without NUL characters, the body
and headers bounded. A message is dead because something could not read it, so nothing in
it can be trusted to be storable as it came."""

from __future__ import annotations

from dataclasses import dataclass

from aio_pika.abc import AbstractIncomingMessage

from laf_core import topology

MAX_BODY_CHARS = 64 * 1024  # the start of a larger body is kept, with a marker
MAX_HEADER_CHARS = 2000  # per header value
MAX_HEADERS = 64


def storable_text(value: str, limit: int) -> str:
    """`value` with NUL characters escaped (PostgreSQL text cannot hold them) and cut at
    `limit` characters with a marker saying how long it was."""
    text = value.replace("\x00", "\\u0000")
    if len(text) > limit:
        return f"{text[:limit]}… [truncated: {len(text)} characters in all]"
    return text


@dataclass(frozen=True)
class DeadLetterRow:
    message_id: str | None
    routing_key: str | None
    queue: str | None
    reason: str
    headers: dict[str, str]
    body: str

    @classmethod
    def of(cls, message: AbstractIncomingMessage) -> DeadLetterRow:
        raw = message.headers or {}
        headers = {
            storable_text(str(k), 200): storable_text(str(v), MAX_HEADER_CHARS)
            for k, v in list(raw.items())[:MAX_HEADERS]
        }
        size = len(message.body)
        body = storable_text(message.body.decode(errors="replace"), MAX_BODY_CHARS)
        if size > MAX_BODY_CHARS:
            body += f" [{size} bytes]"
        queue = raw.get("x-laf-queue") or _death(message).get("queue")
        reason = raw.get(topology.ERROR_HEADER) or _death_reason(message)
        return cls(
            message_id=_optional(message.message_id),
            routing_key=_optional(message.routing_key),
            queue=_optional(queue),
            reason=storable_text(str(reason), MAX_HEADER_CHARS),
            headers=headers,
            body=body,
        )

    def values(self) -> tuple[object, ...]:
        return (
            self.message_id,
            self.routing_key,
            self.queue,
            self.reason,
            self.headers,
            self.body,
        )


def _optional(value: object) -> str | None:
    return storable_text(str(value), 500) if value else None


def _death(message: AbstractIncomingMessage) -> dict[str, object]:
    """RabbitMQ's note on the latest death of a message it dead-lettered itself."""
    deaths = (message.headers or {}).get("x-death")
    first = deaths[0] if isinstance(deaths, list) and deaths else None
    return dict(first) if isinstance(first, dict) else {}


def _death_reason(message: AbstractIncomingMessage) -> str:
    reason = _death(message).get("reason")
    return f"dead-lettered by RabbitMQ: {reason}" if reason else "unknown"
