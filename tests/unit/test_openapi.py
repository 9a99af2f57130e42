"""The OpenAPI document is what the frontend and clients generate types from: it must be whole."""

import json
import re

from laf_api.app import create_app
from laf_core.settings import ApiSettings, CommonSettings


def test_every_schema_reference_resolves():
    document = create_app(CommonSettings(dev_mode=True), ApiSettings()).openapi()
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
