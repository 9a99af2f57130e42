"""The four services as real processes against real PostgreSQL and RabbitMQ."""

import asyncio
from pathlib import Path

import httpx
import pytest

from laf_core.devstack import Stack
from laf_core.testing import infra
from laf_core.testing.plugin import TEST_SECRET

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
FINAL = {"succeeded", "failed", "cancelled"}


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="module")
async def stack(pg_template, request):
    database = await infra.create_database(pg_template)
    vhost, amqp_url = infra.create_vhost()
    stack = Stack(
        env={
            "LAF_DATABASE_URL": infra.database_url(database),
            "LAF_AMQP_URL": amqp_url,
            "LAF_WEBHOOK_SECRET": TEST_SECRET,
            "LAF_DEV_MODE": "1",
            "LAF_LOG_JSON": "1",
            "LAF_COORDINATOR_SWEEP_S": "0.5",
        },
        log_dir=ARTIFACTS / request.module.__name__.rsplit(".", 1)[-1],
    )
    try:
        stack.start_all()
        await asyncio.to_thread(stack.wait_ready, 60)
        yield stack
    finally:
        stack.stop_all()
        infra.delete_vhost(vhost)
        await infra.drop_database(database)


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
