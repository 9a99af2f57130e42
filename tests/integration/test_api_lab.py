"""Instrument registry and operator endpoints: validation, 404s and 409s, in-process."""

import uuid

from laf_core.testing.factories import task, workflow
from tests.integration.test_api import submit

BALANCE = {
    "id": "balance-01",
    "name": "Analytical balance",
    "kind": "balance",
    "endpoint": "http://127.0.0.1:8100/balance",
    "parameters_schema": {
        "type": "object",
        "properties": {"target_mg": {"type": "number", "minimum": 0}},
    },
}


async def test_register_read_and_update_an_instrument(client):
    created = await client.post("/api/instruments", json=BALANCE)
    assert created.status_code == 201
    body = created.json()
    assert (body["capacity"], body["status"], body["current"], body["queue"]) == (
        1,
        "online",
        [],
        [],
    )
    assert (await client.post("/api/instruments", json=BALANCE)).status_code == 409
    patched = await client.patch(
        "/api/instruments/balance-01", json={"status": "maintenance", "capacity": 2}
    )
    assert (patched.json()["status"], patched.json()["capacity"]) == ("maintenance", 2)
    assert patched.json()["endpoint"] == BALANCE["endpoint"]  # untouched fields stay
    cleared = await client.patch("/api/instruments/balance-01", json={"endpoint": None})
    assert cleared.json()["endpoint"] is None
    assert [i["id"] for i in (await client.get("/api/instruments")).json()] == ["balance-01"]
    assert (await client.get("/api/instruments/nope")).status_code == 404
    assert (
        await client.patch("/api/instruments/nope", json={"status": "online"})
    ).status_code == 404


async def test_bad_instruments_are_refused(client):
    for bad, expected in [
        ({**BALANCE, "status": "broken"}, "status"),
        ({**BALANCE, "capacity": 0}, "capacity"),
        ({**BALANCE, "parameters_schema": {"type": "no-such-type"}}, "not a valid JSON Schema"),
        ({**BALANCE, "id": "bad id!"}, "id"),
    ]:
        response = await client.post("/api/instruments", json=bad)
        assert response.status_code == 422 and expected in response.text
    assert (await client.get("/api/instruments")).json() == []


async def test_control_endpoints_validate_and_404(client):
    wf = (await submit(client, workflow(task("a"))))["id"]
    for path in ("cancel", "tasks/a/retry", "tasks/a/skip", "tasks/a/complete"):
        response = await client.post(f"/api/workflows/{wf}/{path}", json={})
        assert response.status_code == 422, path
        assert "reason" in response.text
    assert (
        await client.post(f"/api/workflows/{uuid.uuid4()}/cancel", json={"reason": "x"})
    ).status_code == 404
    assert (await client.post("/api/workflows/nonsense/pause")).status_code == 404
    assert (
        await client.post(f"/api/workflows/{wf}/tasks/zzz/skip", json={"reason": "x"})
    ).status_code == 404
    cancelled = await client.post(
        f"/api/workflows/{wf}/cancel", json={"reason": "duplicate submission"}
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    paused = await client.post(f"/api/workflows/{wf}/pause")
    assert paused.status_code == 409 and "it is cancelled" in paused.json()["detail"]
