"""The OpenAPI document is what the frontend and clients generate types from: it must be whole."""

import json
import re

from laf_api.app import create_app
from laf_api.settings import ApiSettings
from laf_core.settings import CommonSettings
from laf_core.testing.infra import TEST_SECRET


def test_every_schema_reference_resolves():
    document = create_app(CommonSettings(webhook_secret=TEST_SECRET), ApiSettings()).openapi()
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(document)))
    assert refs, "expected component references"
    assert sorted(refs - set(document["components"]["schemas"])) == []
    body = document["paths"]["/api/webhooks/tasks"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    assert {m["$ref"].rsplit("/", 1)[1] for m in body["oneOf"]} == {
        "StartedReport",
        "HeartbeatReport",
        "SucceededReport",
        "FailedReport",
    }


def test_states_are_named_components_with_their_values():
    from laf_core.contracts import states

    schemas = create_app(CommonSettings(webhook_secret=TEST_SECRET), ApiSettings()).openapi()[
        "components"
    ]["schemas"]
    for name in ("ActiveTaskStatus", "FinalTaskStatus", "ActiveWorkflowStatus", "InstrumentStatus"):
        assert schemas[name]["enum"] == list(states.values(getattr(states, name))), name
    assert schemas["TaskStatus"] == {
        "anyOf": [
            {"$ref": "#/components/schemas/ActiveTaskStatus"},
            {"$ref": "#/components/schemas/FinalTaskStatus"},
        ]
    }
    assert schemas["TaskOut"]["properties"]["status"] == {"$ref": "#/components/schemas/TaskStatus"}
    assert schemas["WorkflowOut"]["properties"]["status"] == {
        "$ref": "#/components/schemas/WorkflowStatus"
    }


def test_state_lists_are_the_halves_in_lifecycle_order():
    from laf_core.contracts import states

    assert states.TASK_STATUSES == (
        "pending", "waiting", "queued", "running", "succeeded", "failed", "cancelled", "skipped",
    )  # fmt: skip
    assert states.WORKFLOW_STATUSES == (
        "pending", "running", "paused", "succeeded", "failed", "cancelled",
    )  # fmt: skip
    assert (*states.RUNNER_EXECUTORS, *states.OPERATOR_EXECUTORS) == states.EXECUTORS
    assert "manual" not in states.RUNNER_EXECUTORS
