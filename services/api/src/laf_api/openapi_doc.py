"""The OpenAPI document told the whole truth: every status an operation can answer.

FastAPI documents what a route declares. Some answers come from elsewhere: the
role check (401, 403), the request guard (413, 422), the pools (503 with
Retry-After), the path's id (404). `complete(document)` adds each to the operations
that can give it, with its body schema:

- `Problem`: `{"detail": "<what went wrong>"}`, the body of every 4xx and 5xx;
- a 422's `detail` is either that text (a document refused as a whole, naming the
  task) or the list of `{loc, msg, type}` that field validation gives.
"""

from __future__ import annotations

import copy
from typing import Any

_PROBLEM = {
    "title": "Problem",
    "type": "object",
    "properties": {"detail": {"type": "string", "title": "Detail"}},
    "required": ["detail"],
}
_VALIDATION_DETAIL = {
    "title": "Detail",
    "anyOf": [
        {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}},
        {"type": "string"},
    ],
}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_INVALID_REF = {"$ref": "#/components/schemas/HTTPValidationError"}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer"},
    }
}

_DESCRIPTIONS = {
    400: "The body could not be read",
    401: "No credential, or one that is unknown, expired or revoked",
    403: "The caller lacks the role this needs",
    404: "No such workflow, task, instrument, user or token",
    409: "The current state does not allow it; `detail` says why",
    413: 'The body is over its limit (README "Limits")',
    422: "The request is not acceptable; `detail` says what and where",
    429: "Too many at once; see Retry-After",
    503: "The database is unreachable or busy; see Retry-After",
}


def _answers(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    """The statuses an operation can give besides those it declares."""
    statuses = {422}
    if not path.startswith("/api/"):
        return statuses
    statuses |= {401, 403, 503}
    if "{" in path:
        statuses.add(404)
    if "requestBody" in operation:
        statuses |= {400, 413}
    if path == "/api/events":
        statuses.add(429)
    return statuses


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with every status each operation can answer, and the bodies' schemas."""
    document = copy.deepcopy(document)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = _PROBLEM
    schemas.setdefault(
        "ValidationError",
        {
            "title": "ValidationError",
            "type": "object",
            "properties": {
                "loc": {
                    "title": "Location",
                    "type": "array",
                    "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                },
                "msg": {"title": "Message", "type": "string"},
                "type": {"title": "Error Type", "type": "string"},
            },
            "required": ["loc", "msg", "type"],
        },
    )
    schemas["HTTPValidationError"] = {
        "title": "HTTPValidationError",
        "type": "object",
        "properties": {"detail": _VALIDATION_DETAIL},
        "required": ["detail"],
    }
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method not in {"get", "post", "patch", "put", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for status in _answers(path, method, operation):
                responses.setdefault(str(status), {"description": _DESCRIPTIONS[status]})
            for code, response in responses.items():
                if not code.isdigit() or int(code) < 400:
                    continue
                schema = _INVALID_REF if code == "422" else _PROBLEM_REF
                response["content"] = {"application/json": {"schema": schema}}
                if code in {"429", "503"}:
                    response.setdefault("headers", {}).update(_RETRY_AFTER)
    readyz = document.get("paths", {}).get("/readyz", {}).get("get")
    if readyz is not None:
        readyz["responses"]["503"] = {
            "description": "Not ready: one line per part that is down",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    return document
