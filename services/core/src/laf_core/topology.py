"""Exchange, queue and routing-key names (DESIGN §4), declared in one place."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from laf_core.contracts.states import RUNNER_EXECUTORS

EVENTS_EXCHANGE = "laf.events"
DEAD_EXCHANGE = "laf.dead"
DEAD_LETTER_QUEUE = "laf.dead-letters"
COORDINATOR_QUEUE = "laf.coordinator"
DELIVERY_LIMIT = 10  # redeliveries before a quorum queue dead-letters a message
# LAF's events are small (ids and a few fields); a consumer refuses a larger message as
# poison, with its reason, instead of reading it.
MAX_MESSAGE_BYTES = 256 * 1024
ERROR_HEADER = "x-laf-error"


def workflow_key(status: str) -> str:
    return f"workflow.{status}"


def task_key(status: str, executor: str) -> str:
    return f"task.{status}.{executor}"


def runner_queue(executor: str) -> str:
    return f"laf.runner.{executor}"


def lease_queue(holding: str) -> str:
    """The exclusive queue a runner declares while it follows `holding` (a Job's name):
    RabbitMQ lets one connection have it, and drops it when that connection ends."""
    return f"laf.lease.{holding}"


@dataclass(frozen=True)
class DurableQueue:
    name: str
    bindings: tuple[str, ...]
    arguments: dict[str, Any] = field(default_factory=dict)


def _quorum() -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": DEAD_EXCHANGE,
    }


COORDINATOR = DurableQueue(
    COORDINATOR_QUEUE,
    # New workflows to start; tasks back in `pending` after a failed attempt (retry timers).
    (workflow_key("pending"), "task.pending.*"),
    _quorum(),
)


# Bound to laf.dead with "#". Its delivery limit has no dead-letter exchange: a message the
# coordinator could not store after that many deliveries (it crashed on it, say) is dropped
# by RabbitMQ instead of coming back forever; the coordinator itself drops, logged once and
# counted, what PostgreSQL refuses (see laf_coordinator.dead_letters).
DEAD_LETTERS = DurableQueue(
    DEAD_LETTER_QUEUE,
    ("#",),
    {"x-queue-type": "quorum", "x-delivery-limit": DELIVERY_LIMIT},
)


def runner_queues(executors: tuple[str, ...] = RUNNER_EXECUTORS) -> list[DurableQueue]:
    return [DurableQueue(runner_queue(e), (task_key("queued", e),), _quorum()) for e in executors]


def durable_queues() -> list[DurableQueue]:
    return [COORDINATOR, *runner_queues()]


def _matches(pattern: str, key: str) -> bool:
    """AMQP topic matching for the patterns used here ('*' one word, '#' any tail)."""
    pwords, kwords = pattern.split("."), key.split(".")
    for i, word in enumerate(pwords):
        if word == "#":
            return True
        if i >= len(kwords) or (word != "*" and word != kwords[i]):
            return False
    return len(pwords) == len(kwords)


@functools.lru_cache(maxsize=1024)  # a few dozen keys; the relay asks for every event
def must_route(routing_key: str) -> bool:
    """True when a durable queue must receive this event: publish it as mandatory.

    Other events (a task turning `running`, say) are hints for live views
    that may have no queue bound right now; RabbitMQ may drop those.
    """
    return any(_matches(b, routing_key) for q in durable_queues() for b in q.bindings)
