"""The frontend's API types are generated, never hand-written: the committed
frontend/openapi.json and frontend/workflow.schema.json must be what the Python
app produces now (the Vitest suite checks src/api/schema.ts, the types and enum
value lists, against openapi.json).
Regenerate all three with scripts/gen-frontend-api.sh."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HINT = "stale: run scripts/gen-frontend-api.sh and commit the result"


def _dump():
    spec = importlib.util.spec_from_file_location(
        "dump_openapi", ROOT / "scripts" / "dump_openapi.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_openapi_document_is_current():
    committed = (ROOT / "frontend" / "openapi.json").read_text()
    assert committed == _dump().openapi_document(), f"frontend/openapi.json is {HINT}"


def test_committed_workflow_schema_is_current():
    committed = (ROOT / "frontend" / "workflow.schema.json").read_text()
    assert committed == _dump().workflow_schema(), f"frontend/workflow.schema.json is {HINT}"
