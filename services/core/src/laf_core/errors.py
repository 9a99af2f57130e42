"""The two kinds of failure that drive delivery (STYLE habit 6).

A consumer maps them to the broker in one place (laf_core.broker.consume):
a PermanentError dead-letters the message with its reason; a TransientError
keeps it and tries again with backoff.
"""

from __future__ import annotations

import asyncio

import asyncpg


class PermanentError(Exception):
    """The message can never be handled: dead-letter it, with this reason."""


class TransientError(Exception):
    """A dependency is unavailable for now: try the same message again later."""


_TRANSIENT_PG = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.AdminShutdownError,
    asyncpg.QueryCanceledError,
)


def is_transient(exc: BaseException) -> bool:
    """True for failures that go away by themselves (network, restarts, lock conflicts)."""
    return isinstance(exc, (TransientError, OSError, asyncio.TimeoutError, *_TRANSIENT_PG))
