"""Print the API's OpenAPI document (as /openapi.json serves it) without starting a server.

`--workflow-schema` prints the workflow JSON Schema (as /api/schemas/workflow serves it)
instead; `--asyncapi` the AsyncAPI document of LAF's messages (as /asyncapi.json serves
it; the committed copy is docs/asyncapi.json, kept current by tests/unit/test_asyncapi.py). Used by scripts/gen-frontend-api.sh and by tests/browser/test_generated_api.py,
which keeps the committed copies in frontend/ current.
"""

from __future__ import annotations

import json
import sys


def openapi_document() -> str:
    from laf_api.app import create_app
    from laf_api.settings import ApiSettings
    from laf_core.settings import CommonSettings

    common = CommonSettings(webhook_secret="x" * 32)  # any secret: nothing is signed here
    app = create_app(common, ApiSettings(frontend_dir=""))
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"


def workflow_schema() -> str:
    from laf_core.contracts.workflow import WorkflowSpec

    return json.dumps(WorkflowSpec.model_json_schema(), indent=2) + "\n"


def asyncapi_document() -> str:
    from laf_core.asyncapi import document

    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    if "--asyncapi" in sys.argv:
        sys.stdout.write(asyncapi_document())
    elif "--workflow-schema" in sys.argv:
        sys.stdout.write(workflow_schema())
    else:
        sys.stdout.write(openapi_document())
