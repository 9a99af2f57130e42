"""The message contract as a document: docs/asyncapi.json is what FastStream makes (through
laf_core.asyncapi) from the topology and the event contracts the services use, and it names
all of them."""

import json
import re
from pathlib import Path

import httpx

from laf_api.app import create_app
from laf_api.settings import ApiSettings
from laf_core import asyncapi, topology
from laf_core.contracts import states
from laf_core.contracts.events import Envelope, TaskEventData
from laf_core.settings import CommonSettings
from laf_core.testing.infra import TEST_SECRET

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"


def test_the_committed_document_is_current():
    fresh = json.dumps(asyncapi.document(), indent=2, sort_keys=True) + "\n"
    assert COMMITTED.read_text() == fresh, (
        "docs/asyncapi.json is stale: uv run python scripts/dump_openapi.py --asyncapi "
        "> docs/asyncapi.json"
    )


def test_it_names_every_queue_binding_and_event_field():
    document = asyncapi.document()
    assert document["asyncapi"].startswith("3.")
    addresses = {c["address"] for c in document["channels"].values()}
    queues = {
        c["bindings"]["amqp"]["queue"]["name"]
        for c in document["channels"].values()
        if c["bindings"]["amqp"]["is"] == "queue"
    }
    assert queues == {q.name for q in topology.durable_queues()} | {topology.DEAD_LETTER_QUEUE}
    assert "task.{status}.{executor}" in addresses
    text = json.dumps(document)
    for queue in topology.durable_queues():
        for binding in queue.bindings:
            assert f"`{binding}`" in text
    schemas = document["components"]["schemas"]
    for event in ("WorkflowEvent", "TaskEvent", "InstrumentEvent"):
        assert set(schemas[event]["properties"]) == set(Envelope.model_fields)
    assert set(schemas["TaskEventData"]["properties"]) == set(TaskEventData.model_fields)
    assert schemas["TaskEvent"]["properties"]["data"] == {
        "$ref": "#/components/schemas/TaskEventData"
    }
    task_params = document["channels"]["taskEvents"]["parameters"]
    assert task_params["status"]["enum"] == list(states.TASK_STATUSES)
    assert task_params["executor"]["enum"] == list(states.EXECUTORS)
    refs = set(re.findall(r'"#/components/(schemas|messages)/([^"]+)"', text))
    assert refs and all(name in document["components"][kind] for kind, name in refs)
    for operation in document["operations"].values():
        channel = operation["channel"]["$ref"].rsplit("/", 1)[1]
        assert channel in document["channels"]
    # The relay's publishes: persistent, mandatory where a durable queue is bound.
    sends = {
        op["channel"]["$ref"].rsplit("/", 1)[1]: op["bindings"]["amqp"]
        for op in document["operations"].values()
        if op["action"] == "send"
    }
    assert set(sends) == {"workflowEvents", "taskEvents", "instrumentEvents"}
    assert {amqp["deliveryMode"] for amqp in sends.values()} == {2}
    assert sends["taskEvents"]["mandatory"] and not sends["instrumentEvents"]["mandatory"]
    # Every {parameter} of an address is described, as AsyncAPI 3 requires.
    for channel in document["channels"].values():
        named = set(re.findall(r"{(\w+)}", channel["address"]))
        assert named == set(channel.get("parameters", {})), channel["address"]


def test_the_task_event_data_is_what_the_outbox_writes():
    """The keys laf_emit_task_events puts in `data` are TaskEventData's fields."""
    from importlib import resources

    sql = (resources.files("laf_core.db") / "functions" / "outbox.sql").read_text()
    body = sql[sql.index("laf_emit_task_events") :]
    built = body[body.index("jsonb_build_object(") : body.index("|| p_extra")]
    assert set(re.findall(r"'(\w+)'", built)) == set(TaskEventData.model_fields)


async def test_the_api_serves_it_and_a_page():
    app = create_app(CommonSettings(webhook_secret=TEST_SECRET), ApiSettings())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
    ) as client:
        assert (await client.get("/asyncapi.json")).json() == asyncapi.document()
        page = await client.get("/asyncapi")
        assert page.status_code == 200
        assert topology.COORDINATOR_QUEUE in page.text and "TaskEventData" in page.text
        assert "<script" not in page.text
