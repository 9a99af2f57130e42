"""The web app's cockpit reads (issue #17): the operator's inbox, an instrument's
calibration date and its recent runs with utilisation, in-process."""


from laf_core.db.queries import Q
from laf_core.testing.factories import task, workflow
from tests.integration.test_api import submit
from tests.integration.test_api_lab import BALANCE

OUTPUTS_SCHEMA = {
    "type": "object",
    "required": ["vials"],
    "properties": {"vials": {"type": "integer", "minimum": 0}},
}


async def test_the_inbox_lists_manual_steps_awaiting_an_operator_until_completed(client, db):
    await client.post("/api/instruments", json=BALANCE)
    load = task(
        "load",
        executor="manual",
        params={"instructions": "Load the rack", "outputs_schema": OUTPUTS_SCHEMA},
    )
    first = await submit(client, workflow(load, task("after", "load"), name="inbox one"))
    weigh = task("weigh", executor="manual", instrument="balance-01", params={})
    await submit(client, workflow(weigh, name="inbox two"))
    await db.fetchval(Q.grant_instrument, "balance-01")

    # The submits started both: each manual step awaits an operator at once.
    inbox = (await client.get("/api/inbox")).json()
    assert [(i["workflow_name"], i["task_name"]) for i in inbox] == [
        ("inbox one", "load"),
        ("inbox two", "weigh"),
    ]
    assert inbox[0]["params"]["outputs_schema"] == OUTPUTS_SCHEMA
    assert inbox[0]["params"]["instructions"] == "Load the rack"
    assert inbox[0]["workflow_status"] == "running" and inbox[0]["since"]
    assert inbox[0]["workflow_id"] == first["id"] and inbox[0]["created_by"]

    done = await client.post(
        f"/api/workflows/{first['id']}/tasks/load/complete",
        json={"reason": "rack loaded", "outputs": {"vials": 12}},
    )
    assert done.status_code == 200, done.text
    assert [i["task_name"] for i in (await client.get("/api/inbox")).json()] == ["weigh"]
    assert (await client.get("/api/inbox", params={"limit": 0})).status_code == 422


async def test_a_manual_step_with_an_outputs_schema_that_is_not_an_object_is_refused(client):
    bad = workflow(task("load", executor="manual", params={"outputs_schema": "vials"}))
    response = await client.post("/api/workflows", json=bad)
    assert response.status_code == 422 and "outputs_schema" in response.text


async def test_calibration_due_is_set_audited_and_cleared(client):
    created = await client.post(
        "/api/instruments", json={**BALANCE, "calibration_due": "2026-01-31"}
    )
    assert created.status_code == 201 and created.json()["calibration_due"] == "2026-01-31"
    moved = await client.patch(
        "/api/instruments/balance-01",
        json={"calibration_due": "2027-02-01", "reason": "calibrated today"},
    )
    assert moved.json()["calibration_due"] == "2027-02-01"
    untouched = await client.patch("/api/instruments/balance-01", json={"capacity": 2})
    assert untouched.json()["calibration_due"] == "2027-02-01"
    cleared = await client.patch("/api/instruments/balance-01", json={"calibration_due": None})
    assert cleared.json()["calibration_due"] is None
    bad = await client.patch("/api/instruments/balance-01", json={"calibration_due": "soon"})
    assert bad.status_code == 422
    changes = (await client.get("/api/instruments/balance-01/history")).json()
    calibrated = [c for c in changes if "calibration_due" in c["change"]]
    assert [c["change"]["calibration_due"] for c in calibrated] == [
        [None, "2026-01-31"],
        ["2026-01-31", "2027-02-01"],
        ["2027-02-01", None],
    ]
    assert calibrated[1]["reason"] == "calibrated today"


async def test_an_instruments_runs_and_utilisation_over_the_last_hours(client, db):
    await client.post("/api/instruments", json=BALANCE)
    empty = (await client.get("/api/instruments/balance-01/runs")).json()
    assert (empty["runs"], empty["busy_s"], empty["utilisation"], empty["hours"]) == ([], 0, 0, 24)
    wf = await submit(
        client, workflow(task("weigh", executor="manual", instrument="balance-01"), name="runs")
    )
    await db.fetchval(Q.grant_instrument, "balance-01")
    running = (await client.get("/api/instruments/balance-01/runs", params={"hours": 1})).json()
    assert [(r["task_name"], r["status"], r["finished_at"]) for r in running["runs"]] == [
        ("weigh", "running", None)
    ]
    await client.post(f"/api/workflows/{wf['id']}/tasks/weigh/complete", json={"reason": "weighed"})
    after = (await client.get("/api/instruments/balance-01/runs", params={"hours": 1})).json()
    assert [(r["workflow_name"], r["status"], r["attempt"]) for r in after["runs"]] == [
        ("runs", "succeeded", 1)
    ]
    assert after["runs"][0]["finished_at"] and after["busy_s"] > 0
    assert 0 < after["utilisation"] <= 1 and after["capacity"] == 1
    for bad in ({"hours": 0}, {"hours": 721}, {"limit": 0}):
        response = await client.get("/api/instruments/balance-01/runs", params=bad)
        assert response.status_code == 422, bad
    assert (await client.get("/api/instruments/nope/runs")).status_code == 404
