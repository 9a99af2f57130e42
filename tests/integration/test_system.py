"""GET /api/system on the real database: each service's readiness (real probe servers, one
ready, one not, one silent, one port nobody listens on), the outbox backlog and the dead
letters as rows are written, the trace link template, and who may read it."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from devstack import free_port
from laf_api.app import create_app
from laf_api.settings import ApiSettings
from laf_core.metrics import Metrics
from laf_core.service import serve_probes
from laf_core.testing.factories import task, workflow
from laf_core.testing.infra import TEST_ADMIN_TOKEN, policy_for_tests
from tests.integration.test_auth import login, make_user

TEMPLATE = "http://127.0.0.1:16686/trace/{trace_id}"


@contextlib.asynccontextmanager
async def probe_server(ready: bool) -> AsyncIterator[str]:
    """A worker's own probe server (laf_core.service.serve_probes), ready or not."""
    port = free_port()
    served = asyncio.create_task(serve_probes(port, lambda: ready, Metrics("t"), "127.0.0.1"))
    for _ in range(100):  # until it listens
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            break
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        served.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await served


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[str]:
    """Accepts connections and never answers (a hung worker)."""

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the caller gives up and closes
        writer.close()

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def api(common_settings, db, **settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        common_settings,
        ApiSettings(allowed_hosts=["laf"], **settings),
        policy=policy_for_tests(),
    )
    app.state.pool = db
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://laf",
        headers={"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"},
    ) as client:
        yield client


async def test_system_says_which_services_are_ready_and_why_not(common_settings, db):
    async with (
        probe_server(ready=True) as listener,
        probe_server(ready=False) as coordinator,
        silent_server() as runner,
    ):
        nobody = f"http://127.0.0.1:{free_port()}"
        probes = {
            "listener": listener,
            "coordinator": coordinator,
            "runner": runner,
            "gone": nobody,
        }
        async with api(common_settings, db, service_probes=probes, probe_timeout_s=0.5) as client:
            answer = await client.get("/api/system")
    assert answer.status_code == 200, answer.text
    services = {s["name"]: s for s in answer.json()["services"]}
    assert list(services) == ["api", "listener", "coordinator", "runner", "gone"]
    assert services["api"] == {"name": "api", "url": "/readyz", "ready": True, "detail": "ready"}
    assert services["listener"]["ready"] is True
    assert services["listener"]["url"] == f"{listener}/readyz"
    assert services["coordinator"]["ready"] is False
    assert services["coordinator"]["detail"] == "HTTP 503: not ready"
    assert services["runner"]["ready"] is False
    assert services["runner"]["detail"] == "no answer within 0.5 s"
    assert services["gone"]["ready"] is False
    assert services["gone"]["detail"].startswith("unreachable")


async def test_system_counts_the_outbox_backlog_and_the_dead_letters(common_settings, db):
    async with api(common_settings, db, trace_url_template=TEMPLATE) as client:
        before = (await client.get("/api/system")).json()
        assert before["services"] == [
            {"name": "api", "url": "/readyz", "ready": True, "detail": "ready"}
        ]
        assert before["trace_url_template"] == TEMPLATE
        assert before["dead_letters"] == {"count": 0, "latest_at": None}

        # Three events nobody relayed (no listener runs here), the oldest ten minutes old.
        await db.execute(
            "INSERT INTO outbox (routing_key, event_type, occurred_at) "
            "SELECT 'test.event', 'test.event', clock_timestamp() - make_interval(mins => n) "
            "FROM generate_series(0, 10, 5) AS n"
        )
        await db.execute(
            "INSERT INTO dead_letters (queue, reason, body, received_at) "
            "VALUES ('q', 'unreadable', '{}', '2026-01-02T03:04:05Z'), "
            "('q', 'unreadable', '{}', '2026-01-02T03:04:06Z')"
        )
        after = (await client.get("/api/system")).json()
    assert after["outbox"]["backlog"] == before["outbox"]["backlog"] + 3
    assert after["outbox"]["oldest_age_s"] >= 600
    assert after["dead_letters"]["count"] == 2
    assert after["dead_letters"]["latest_at"].startswith("2026-01-02T03:04:06")


async def test_a_workflow_names_its_trace_and_me_the_viewers_link(common_settings, db):
    async with api(common_settings, db, trace_url_template=TEMPLATE) as client:
        submitted = await client.post("/api/workflows", json=workflow(task("a")))
        assert submitted.status_code == 201, submitted.text
        body = submitted.json()
        assert body["trace_id"] == uuid.UUID(body["id"]).hex
        assert body["trace_id"] in submitted.headers["traceparent"]
        read = (await client.get(f"/api/workflows/{body['id']}")).json()
        assert read["trace_id"] == body["trace_id"]
        listed = (await client.get("/api/workflows")).json()["items"]
        assert [w["trace_id"] for w in listed] == [body["trace_id"]]
        assert (await client.get("/api/auth/me")).json()["trace_url_template"] == TEMPLATE


@pytest.mark.parametrize(("roles", "status"), [(["viewer"], 403), (["reviewer"], 403)])
async def test_system_needs_an_operator_or_admin(common_settings, db, roles, status):
    async with api(common_settings, db) as client:
        anonymous = await client.get("/api/system", headers={"Authorization": ""})
        assert anonymous.status_code == 401
        await make_user(client, "watcher", roles)
        token = (await login(client, "watcher")).json()["token"]
        refused = await client.get("/api/system", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == status and "operator" in refused.json()["detail"]
        await make_user(client, "doer", ["operator"])
        token = (await login(client, "doer")).json()["token"]
        allowed = await client.get("/api/system", headers={"Authorization": f"Bearer {token}"})
        assert allowed.status_code == 200, allowed.text
