"""LAF's messages as an AsyncAPI 3 document, generated from what the services use:
the exchanges, queues and routing keys of `topology` and the Pydantic contracts of
`contracts.events`. The API serves it at /asyncapi.json (a page at /asyncapi);
docs/asyncapi.json is the committed copy a unit test keeps current."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from laf_core import topology
from laf_core.contracts.events import (
    Envelope,
    InstrumentEventData,
    TaskEventData,
    WorkflowEventData,
)
from laf_core.contracts.states import (
    EXECUTORS,
    INSTRUMENT_STATUSES,
    TASK_STATUSES,
    WORKFLOW_STATUSES,
)

REF = "#/components/schemas/{model}"
_MODELS: list[type[BaseModel]] = [Envelope, WorkflowEventData, TaskEventData, InstrumentEventData]

_HEADERS = {
    "type": "object",
    "properties": {
        "traceparent": {
            "type": "string",
            "description": "W3C trace context: the workflow's trace, the relay's span for "
            "this event (laf_core.telemetry)",
        },
        topology.ERROR_HEADER: {
            "type": "string",
            "description": "on a dead letter: why it was dead-lettered",
        },
        "x-laf-queue": {
            "type": "string",
            "description": "on a dead letter: the queue that gave up on it",
        },
    },
}


def _event_message(kind: str, data: type[BaseModel], summary: str) -> dict[str, Any]:
    return {
        "name": f"{kind}Event",
        "title": f"{kind} event",
        "summary": summary,
        "contentType": "application/json",
        "headers": _HEADERS,
        "payload": {
            "allOf": [
                {"$ref": REF.format(model="Envelope")},
                {
                    "type": "object",
                    "properties": {"data": {"$ref": REF.format(model=data.__name__)}},
                },
            ]
        },
        "bindings": {"amqp": {"deliveryMode": 2, "bindingVersion": "0.3.0"}},
    }


def _exchange(name: str) -> dict[str, Any]:
    return {"name": name, "type": "topic", "durable": True, "autoDelete": False, "vhost": "/"}


def _param(values: tuple[str, ...], description: str) -> dict[str, Any]:
    return {"enum": list(values), "description": description}


def _queue_channel(queue: topology.DurableQueue, messages: list[str]) -> dict[str, Any]:
    return {
        "address": queue.name,
        "title": f"queue {queue.name}",
        "description": f"Bound to {topology.EVENTS_EXCHANGE} with "
        + ", ".join(f"`{b}`" for b in queue.bindings)
        + f"; quorum queue, dead-lettered to {topology.DEAD_EXCHANGE} after "
        f"{topology.DELIVERY_LIMIT} redeliveries.",
        "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in messages},
        "bindings": {
            "amqp": {
                "is": "queue",
                "queue": {
                    "name": queue.name,
                    "durable": True,
                    "exclusive": False,
                    "autoDelete": False,
                    "vhost": "/",
                },
                "bindingVersion": "0.3.0",
            }
        },
    }


def document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document (deterministic: the same contracts, the same bytes)."""
    _, schemas = models_json_schema([(m, "validation") for m in _MODELS], ref_template=REF)
    messages = {
        "workflowEvent": _event_message(
            "workflow", WorkflowEventData, "A workflow changed status."
        ),
        "taskEvent": _event_message("task", TaskEventData, "A task changed status."),
        "instrumentEvent": _event_message(
            "instrument", InstrumentEventData, "An instrument changed status or capacity."
        ),
    }
    events = topology.EVENTS_EXCHANGE
    exchange_binding = {
        "amqp": {"is": "routingKey", "exchange": _exchange(events), "bindingVersion": "0.3.0"}
    }
    channels: dict[str, Any] = {
        "workflowEvents": {
            "address": topology.workflow_key("{status}"),
            "title": f"{events}: workflow.<status>",
            "messages": {"workflowEvent": {"$ref": "#/components/messages/workflowEvent"}},
            "parameters": {"status": _param(WORKFLOW_STATUSES, "the workflow's new status")},
            "bindings": exchange_binding,
        },
        "taskEvents": {
            "address": topology.task_key("{status}", "{executor}"),
            "title": f"{events}: task.<status>.<executor>",
            "messages": {"taskEvent": {"$ref": "#/components/messages/taskEvent"}},
            "parameters": {
                "status": _param(TASK_STATUSES, "the task's new status"),
                "executor": _param(EXECUTORS, "the task's executor"),
            },
            "bindings": exchange_binding,
        },
        "instrumentEvents": {
            "address": "instrument.{status}",
            "title": f"{events}: instrument.<status>",
            "messages": {"instrumentEvent": {"$ref": "#/components/messages/instrumentEvent"}},
            "parameters": {"status": _param(INSTRUMENT_STATUSES, "the instrument's status")},
            "bindings": exchange_binding,
        },
        "coordinatorQueue": _queue_channel(topology.COORDINATOR, ["workflowEvent", "taskEvent"]),
        "deadLetters": {
            "address": topology.DEAD_LETTER_QUEUE,
            "title": f"queue {topology.DEAD_LETTER_QUEUE}",
            "description": f"Everything {topology.DEAD_EXCHANGE} receives (`#`): messages a "
            f"consumer refused for good, with `{topology.ERROR_HEADER}`; the coordinator "
            "keeps them in PostgreSQL.",
            "messages": {
                m: {"$ref": f"#/components/messages/{m}"}
                for m in ("workflowEvent", "taskEvent", "instrumentEvent")
            },
            "bindings": {
                "amqp": {
                    "is": "queue",
                    "queue": {"name": topology.DEAD_LETTER_QUEUE, "durable": True, "vhost": "/"},
                    "bindingVersion": "0.3.0",
                }
            },
        },
    }
    operations: dict[str, Any] = {
        "relayWorkflowEvents": _operation(
            "send", "workflowEvents", "workflowEvent", "laf-listener"
        ),
        "relayTaskEvents": _operation("send", "taskEvents", "taskEvent", "laf-listener"),
        "relayInstrumentEvents": _operation(
            "send", "instrumentEvents", "instrumentEvent", "laf-listener"
        ),
        "coordinatorConsumes": {
            **_operation("receive", "coordinatorQueue", "workflowEvent", "laf-coordinator"),
            "messages": [
                {"$ref": "#/channels/coordinatorQueue/messages/workflowEvent"},
                {"$ref": "#/channels/coordinatorQueue/messages/taskEvent"},
            ],
        },
        "coordinatorKeepsDeadLetters": {
            **_operation("receive", "deadLetters", "taskEvent", "laf-coordinator"),
            "messages": [
                {"$ref": f"#/channels/deadLetters/messages/{m}"}
                for m in ("workflowEvent", "taskEvent", "instrumentEvent")
            ],
        },
    }
    for queue in topology.runner_queues():
        executor = queue.name.removeprefix(topology.runner_queue(""))
        channel = f"runnerQueue_{executor}"
        channels[channel] = _queue_channel(queue, ["taskEvent"])
        operations[f"runnerClaims_{executor}"] = _operation(
            "receive", channel, "taskEvent", "laf-runner"
        )
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "LAF events",
            "version": "1.0.0",
            "description": "Every state change LAF makes leaves PostgreSQL through its outbox "
            f"and is published by laf-listener on the topic exchange `{events}`, "
            "persistent, with publisher confirms; one that a durable queue must receive "
            "is published mandatory. Consumers ack after their transaction committed.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "rabbitmq": {
                "host": "127.0.0.1:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "LAF_AMQP_URL names the broker of a deployment",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas["$defs"]},
    }


def _operation(action: str, channel: str, message: str, service: str) -> dict[str, Any]:
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "summary": f"{service} {'publishes' if action == 'send' else 'consumes'}",
        "messages": [{"$ref": f"#/channels/{channel}/messages/{message}"}],
    }
