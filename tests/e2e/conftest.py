"""The four services as real processes against real PostgreSQL and RabbitMQ."""

import asyncio
from pathlib import Path

import httpx
import pytest

from devstack import running_stack

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
FINAL = {"succeeded", "failed", "cancelled"}


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="module")
async def stack(pg_template, request):
    log_dir = ARTIFACTS / request.module.__name__.rsplit(".", 1)[-1]
    async with running_stack(pg_template, log_dir, LAF_COORDINATOR_SWEEP_S="0.5") as stack:
        yield stack


@pytest.fixture
async def api(stack):
    async with httpx.AsyncClient(
        base_url=stack.api_url, timeout=10, headers=stack.auth_headers
    ) as client:
        yield client


async def submit(api, document) -> str:
    response = await api.post("/api/workflows", json=document)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def wait_for_end(api, workflow_id: str, timeout: float = 30.0) -> dict:
    """Poll until the workflow reaches a final state (fails the test at the deadline)."""
    async with asyncio.timeout(timeout):
        while True:
            response = await api.get(f"/api/workflows/{workflow_id}")
            assert response.status_code == 200, response.text
            workflow = response.json()
            if workflow["status"] in FINAL:
                return workflow
            await asyncio.sleep(0.05)


async def as_operator(api, name: str) -> dict[str, str]:
    """Headers of a new operator `name` (made by the admin `api` client): who acts is who
    logged in, and the history says so."""
    password = f"{name}-password-for-tests"
    made = await api.post(
        "/api/users", json={"name": name, "password": password, "roles": ["operator"]}
    )
    assert made.status_code in (201, 409), made.text
    login = await api.post("/api/auth/login", json={"username": name, "password": password})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['token']}"}
