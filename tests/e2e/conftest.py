"""The four services as real processes against real PostgreSQL and RabbitMQ."""

import asyncio
from pathlib import Path

import httpx
import pytest

from laf_core.testing import infra

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
FINAL = {"succeeded", "failed", "cancelled"}


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="module")
async def stack(pg_template, request):
    log_dir = ARTIFACTS / request.module.__name__.rsplit(".", 1)[-1]
    async with infra.running_stack(pg_template, log_dir, LAF_COORDINATOR_SWEEP_S="0.5") as stack:
        yield stack


@pytest.fixture
async def api(stack):
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
        yield client


async def submit(api, document) -> str:
    response = await api.post("/api/workflows", json=document)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def wait_for_end(api, workflow_id: str, timeout: float = 30.0) -> dict:
    """Poll until the workflow reaches a final state (fails the test at the deadline)."""
    async with asyncio.timeout(timeout):
        while True:
            workflow = (await api.get(f"/api/workflows/{workflow_id}")).json()
            if workflow["status"] in FINAL:
                return workflow
            await asyncio.sleep(0.05)
