"""Every operation in /openapi.json against one table of who may call it: without a
credential, and with a token of each role. A new endpoint without a rule here fails."""

import re

import httpx
import pytest

# The role an operation needs: OPEN for none, ANY for any valid credential.
OPEN, ANY = "open", "any"
RULES = {
    ("GET", "/healthz"): OPEN,
    ("GET", "/readyz"): OPEN,
    ("GET", "/metrics"): OPEN,
    ("POST", "/api/auth/login"): OPEN,
    ("POST", "/api/auth/logout"): ANY,
    ("GET", "/api/auth/me"): ANY,
    ("POST", "/api/tokens"): "viewer",
    ("GET", "/api/tokens"): "viewer",
    ("DELETE", "/api/tokens/{token_id}"): "viewer",
    ("POST", "/api/users"): "admin",
    ("GET", "/api/users"): "admin",
    ("PATCH", "/api/users/{name}"): "admin",
    ("GET", "/api/schemas/workflow"): "viewer",
    ("POST", "/api/workflows"): "operator",
    ("GET", "/api/workflows"): "viewer",
    ("GET", "/api/workflows/{workflow_id}"): "viewer",
    ("GET", "/api/workflows/{workflow_id}/history"): "viewer",
    ("POST", "/api/workflows/{workflow_id}/cancel"): "operator",
    ("POST", "/api/workflows/{workflow_id}/pause"): "operator",
    ("POST", "/api/workflows/{workflow_id}/resume"): "operator",
    ("POST", "/api/workflows/{workflow_id}/tasks/{name}/retry"): "operator",
    ("POST", "/api/workflows/{workflow_id}/tasks/{name}/skip"): "operator",
    ("POST", "/api/workflows/{workflow_id}/tasks/{name}/complete"): "operator",
    ("GET", "/api/events"): "viewer",
    ("GET", "/api/instruments"): "viewer",
    ("POST", "/api/instruments"): "admin",
    ("GET", "/api/instruments/{instrument_id}"): "viewer",
    ("PATCH", "/api/instruments/{instrument_id}"): "admin",
    ("GET", "/api/instruments/{instrument_id}/history"): "viewer",
    ("GET", "/api/instruments/{instrument_id}/runs"): "viewer",
    ("GET", "/api/inbox"): "viewer",
    ("GET", "/api/runners"): "viewer",
    ("POST", "/api/workflows/{workflow_id}/signatures"): "reviewer",
    ("GET", "/api/workflows/{workflow_id}/record"): "viewer",
    ("GET", "/api/audit/verify"): "admin",
    ("POST", "/api/blobs"): "operator|runner",
    ("GET", "/api/blobs/{sha256}"): "viewer",
    ("GET", "/api/admin/dead-letters"): "admin",
    ("GET", "/api/system"): "operator",
    ("POST", "/api/webhooks/tasks"): "runner",
    ("POST", "/api/webhooks/runners"): "runner",
}
# Which roles satisfy a rule (a role includes those below it; runner is apart).
SATISFIES = {
    "viewer": {"viewer", "operator", "reviewer", "admin"},
    "operator": {"operator", "admin"},
    "admin": {"admin"},
    "reviewer": {"reviewer", "admin"},
    "operator|runner": {"operator", "admin", "runner"},
    "runner": {"runner"},
    ANY: {"viewer", "operator", "reviewer", "admin", "runner"},
}
ROLES = ("viewer", "operator", "reviewer", "admin", "runner")


@pytest.fixture(scope="module")
async def tokens(stack):
    made = {}
    async with httpx.AsyncClient(base_url=stack.api_url, headers=stack.auth_headers) as admin:
        for role in ROLES:
            user = await admin.post("/api/users", json={"name": f"{role}-1", "roles": [role]})
            assert user.status_code == 201, user.text
            token = await admin.post(
                "/api/tokens", json={"name": "matrix", "user": f"{role}-1", "roles": [role]}
            )
            assert token.status_code == 201, token.text
            made[role] = token.json()["token"]
    return made


async def operations(stack) -> list[tuple[str, str]]:
    async with httpx.AsyncClient(base_url=stack.api_url) as client:
        document = (await client.get("/openapi.json")).json()
    return [(m.upper(), path) for path, item in document["paths"].items() for m in item]


async def call(stack, method: str, path: str, token: str | None) -> int:
    url = re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", path)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {} if method in ("POST", "PATCH") else None
    async with (
        httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client,
        client.stream(method, url, json=body, headers=headers) as response,
    ):
        return response.status_code  # a stream (/api/events) is not read


async def test_every_operation_has_a_rule(stack):
    unruled = sorted(set(await operations(stack)) - set(RULES))
    assert not unruled, f"operations without a rule in RULES: {unruled}"
    assert len(RULES) == len(await operations(stack)), "RULES names an operation that is gone"


async def test_without_a_credential_only_open_operations_answer(stack):
    for method, path in await operations(stack):
        status = await call(stack, method, path, None)
        if RULES[(method, path)] == OPEN:
            assert status not in (401, 403), (method, path, status)
        else:
            assert status == 401, (method, path, status)


async def test_each_role_reaches_exactly_what_the_table_allows(stack, tokens):
    for role, token in tokens.items():
        for method, path in await operations(stack):
            rule = RULES[(method, path)]
            if rule == "open" or (method, path) == ("POST", "/api/auth/logout"):
                continue  # logging out would end the token the next calls need
            status = await call(stack, method, path, token)
            if role in SATISFIES[rule]:
                assert status != 403, (role, method, path, status)
                assert status != 401 or path.startswith("/api/webhooks"), (role, path)
            else:
                assert status == 403, (role, method, path, status)


async def test_a_refusal_names_the_role_needed_and_401_says_how_to_authenticate(stack, tokens):
    async with httpx.AsyncClient(base_url=stack.api_url) as client:
        refused = await client.post(
            "/api/workflows", json={}, headers={"Authorization": f"Bearer {tokens['viewer']}"}
        )
        anonymous = await client.get("/api/workflows")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "this needs the operator role (yours: viewer)"
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
