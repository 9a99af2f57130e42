"""Print the API's OpenAPI document (as /openapi.json serves it) without starting a server.

`--workflow-schema` prints the workflow JSON Schema (as /api/schemas/workflow serves it)
instead. Used by scripts/gen-frontend-api.sh and by tests/browser/test_generated_api.py,
which keeps the committed copies in frontend/ current.
"""

from __future__ import annotations

import json
import sys


def openapi_document() -> str:
    from laf_api.app import create_app
    from laf_core.settings import ApiSettings, CommonSettings

    app = create_app(CommonSettings(dev_mode=True), ApiSettings(frontend_dir=""))
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"


def workflow_schema() -> str:
    from laf_core.contracts.workflow import WorkflowSpec

    return json.dumps(WorkflowSpec.model_json_schema(), indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(workflow_schema() if "--workflow-schema" in sys.argv else openapi_document())
