#!/usr/bin/env bash
# Regenerate the frontend's API types from the Python app (no server needed):
#   frontend/openapi.json           the OpenAPI document of laf_api.app.create_app
#   frontend/workflow.schema.json   the workflow JSON Schema (/api/schemas/workflow), for unit tests
#   frontend/src/api/schema.ts      TypeScript types and enum value lists generated from openapi.json
#                                   (openapi-typescript with enumValues)
# All three are committed; tests/browser/test_generated_api.py and the Vitest
# suite fail when they are stale. Run this after changing an API model or route.
set -euo pipefail
cd "$(dirname "$0")/.."
uv run --frozen python scripts/dump_openapi.py > frontend/openapi.json.tmp
uv run --frozen python scripts/dump_openapi.py --workflow-schema > frontend/workflow.schema.json.tmp
mv frontend/openapi.json.tmp frontend/openapi.json
mv frontend/workflow.schema.json.tmp frontend/workflow.schema.json
[ -d frontend/node_modules ] || npm --prefix frontend ci --no-audit --no-fund --loglevel=error
npm --prefix frontend run --silent gen-api
echo "gen-frontend-api: wrote frontend/openapi.json, frontend/workflow.schema.json, frontend/src/api/schema.ts"
