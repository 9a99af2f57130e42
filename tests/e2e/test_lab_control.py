"""Instruments, retries, timeouts, cancel, pause and operator actions on the real stack."""

import asyncio
import itertools
from datetime import datetime
from pathlib import Path

import pytest

from laf_core.testing.factories import task, workflow
from tests.e2e.conftest import as_operator, submit, wait_for_end

REASON = {"reason": "e2e test"}


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def by_name(workflow_json: dict) -> dict[str, dict]:
    return {t["name"]: t for t in workflow_json["tasks"]}


def sleeper(seconds: float, pid_file: Path | None = None) -> list[str]:
    record = f"echo $$ > {pid_file}; " if pid_file else ""
    return ["sh", "-c", f"{record}exec sleep {seconds}"]


async def register(
    api, instrument_id: str, capacity: int = 1, status: str = "online", schema=None
) -> dict:
    body = {
        "id": instrument_id,
        "name": instrument_id,
        "kind": "test",
        "capacity": capacity,
        "status": status,
        "parameters_schema": schema or {},
    }
    response = await api.post("/api/instruments", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def wait_for_task(
    api, workflow_id: str, name: str, status: str, limit_s: float = 15.0
) -> dict:
    async with asyncio.timeout(limit_s):
        while True:
            found = by_name((await api.get(f"/api/workflows/{workflow_id}")).json())[name]
            if found["status"] == status:
                return found
            await asyncio.sleep(0.05)


async def process_gone(pid: int, limit_s: float = 5.0) -> bool:
    async with asyncio.timeout(limit_s):
        while True:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
            except FileNotFoundError:
                return True
            if state == "Z":
                return True
            await asyncio.sleep(0.05)


async def pid_from(path: Path, limit_s: float = 10.0) -> int:
    async with asyncio.timeout(limit_s):
        while not (path.exists() and path.read_text().strip()):
            await asyncio.sleep(0.05)
    return int(path.read_text())


def intervals(tasks: list[dict]) -> list[tuple[datetime, datetime]]:
    return sorted((at(t["started_at"]), at(t["finished_at"])) for t in tasks)


def most_at_once(spans: list[tuple[datetime, datetime]]) -> int:
    return max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)


async def test_workflows_competing_for_one_balance_never_overlap_and_run_in_submission_order(api):
    await register(api, "balance-01")
    ids = []
    for n in range(3):
        ids.append(
            await submit(
                api,
                workflow(
                    task(
                        "weigh",
                        executor="local",
                        instrument="balance-01",
                        params={"command": sleeper(0.3)},
                    ),
                    name=f"competitor {n}",
                ),
            )
        )
    results = [await wait_for_end(api, i) for i in ids]
    assert [r["status"] for r in results] == ["succeeded"] * 3
    weighs = [by_name(r)["weigh"] for r in results]
    spans = [(at(w["started_at"]), at(w["finished_at"])) for w in weighs]
    assert spans == sorted(spans), "the balance served them out of submission order"
    for (_, first_end), (second_start, _) in itertools.pairwise(spans):
        assert first_end <= second_start, "two tasks used the balance at once"


async def test_capacity_two_allows_exactly_two_at_once(api):
    await register(api, "hplc-duo", capacity=2)
    document = workflow(
        *[
            task(
                f"inject-{i}",
                executor="local",
                instrument="hplc-duo",
                params={"command": sleeper(0.5)},
            )
            for i in range(4)
        ]
    )
    result = await wait_for_end(api, await submit(api, document))
    assert result["status"] == "succeeded"
    assert most_at_once(intervals(result["tasks"])) == 2


async def test_an_offline_instrument_holds_its_tasks_waiting_until_it_is_back(api):
    await register(api, "ph-01", status="offline")
    workflow_id = await submit(api, workflow(task("measure", instrument="ph-01")))
    waiting = await wait_for_task(api, workflow_id, "measure", "waiting")
    assert waiting["attempt"] == 0
    view = (await api.get("/api/instruments/ph-01")).json()
    assert [q["task_name"] for q in view["queue"]] == ["measure"] and view["current"] == []
    await asyncio.sleep(0.5)
    assert (await wait_for_task(api, workflow_id, "measure", "waiting"))["started_at"] is None
    patched = await api.patch(
        "/api/instruments/ph-01", json={"status": "online", "reason": "calibrated"}
    )
    assert patched.status_code == 200
    assert (await wait_for_end(api, workflow_id))["status"] == "succeeded"


async def test_the_instrument_view_shows_current_task_and_queue_in_order(api):
    await register(api, "bath-01")
    ids = [
        await submit(
            api,
            workflow(
                task(
                    "dissolve",
                    executor="local",
                    instrument="bath-01",
                    params={"command": sleeper(1.5)},
                ),
                name=f"queued {n}",
            ),
        )
        for n in range(3)
    ]
    await wait_for_task(api, ids[0], "dissolve", "running")
    await wait_for_task(api, ids[2], "dissolve", "waiting")
    view = (await api.get("/api/instruments/bath-01")).json()
    assert [(c["workflow_id"], c["status"]) for c in view["current"]] == [(ids[0], "running")]
    assert [q["workflow_id"] for q in view["queue"]] == ids[1:]
    listed = {i["id"]: i for i in (await api.get("/api/instruments")).json()}
    assert listed["bath-01"]["queue"] == view["queue"]
    for workflow_id in ids:
        await api.post(f"/api/workflows/{workflow_id}/cancel", json=REASON)


async def test_params_are_checked_against_the_instrument_schema(api):
    schema = {
        "type": "object",
        "properties": {"target_mg": {"type": "number"}},
        "required": ["target_mg"],
    }
    await register(api, "balance-schema", schema=schema)
    bad = workflow(task("weigh", instrument="balance-schema", params={"target_mg": "heavy"}))
    response = await api.post("/api/workflows", json=bad)
    assert response.status_code == 422
    assert "task 'weigh': params.target_mg" in response.json()["detail"]
    missing = await api.post(
        "/api/workflows", json=workflow(task("weigh", instrument="balance-schema"))
    )
    assert missing.status_code == 422 and "target_mg" in missing.json()["detail"]
    good = workflow(task("weigh", instrument="balance-schema", params={"target_mg": 100.0}))
    assert (await api.post("/api/workflows", json=good)).status_code == 201
    unknown = await api.post("/api/workflows", json=workflow(task("weigh", instrument="no-such")))
    assert unknown.status_code == 422 and "unknown instrument 'no-such'" in unknown.text


async def test_backoff_delays_grow(api):
    document = workflow(
        task(
            "flaky",
            executor="local",
            params={"command": ["sh", "-c", "exit 1"]},
            retry={"max_attempts": 4, "backoff_s": 0.2, "max_backoff_s": 10},
        )
    )
    result = await wait_for_end(api, await submit(api, document))
    attempts = by_name(result)["flaky"]["attempts"]
    assert [a["attempt"] for a in attempts] == [1, 2, 3, 4]
    assert all(a["error"] == "exit code 1" for a in attempts)
    gaps = [
        (at(b["queued_at"]) - at(a["finished_at"])).total_seconds()
        for a, b in itertools.pairwise(attempts)
    ]
    # Jitter keeps each delay within 50-100 % of backoff_s * 2**(n-1): 0.1-0.2, 0.2-0.4,
    # 0.4-0.8 s; a timer may fire a little late, never early. Neighbouring windows touch,
    # so growth is asserted where they cannot overlap.
    lower = [0.1, 0.2, 0.4]
    assert all(gap >= low - 0.01 for gap, low in zip(gaps, lower, strict=True)), gaps
    assert gaps[0] < gaps[2], gaps


async def test_a_timeout_stops_a_long_subprocess_within_its_limit(api, tmp_path):
    pid_file = tmp_path / "pid"
    document = workflow(
        task(
            "stuck",
            executor="local",
            timeout_s=1,
            retry={"max_attempts": 1},
            params={"command": sleeper(60, pid_file)},
        )
    )
    workflow_id = await submit(api, document)
    pid = await pid_from(pid_file)
    result = await wait_for_end(api, workflow_id, 30)
    stuck = by_name(result)["stuck"]
    # Stopped by the runner at its limit, by the recorded times (the reconciler would only
    # fail it past timeout_s + its 30 s grace).
    ran = stuck["attempts"][0]
    assert 1 <= (at(ran["finished_at"]) - at(ran["started_at"])).total_seconds() < 20
    assert (result["status"], stuck["status"], stuck["error"]) == (
        "failed",
        "failed",
        "timed out after 1s",
    )
    assert await process_gone(pid)


async def test_cancel_stops_the_running_subprocess(api, tmp_path):
    pid_file = tmp_path / "pid"
    workflow_id = await submit(
        api,
        workflow(
            task("long", executor="local", params={"command": sleeper(60, pid_file)}),
            task("after", "long"),
        ),
    )
    await wait_for_task(api, workflow_id, "long", "running")
    pid = await pid_from(pid_file)
    response = await api.post(
        f"/api/workflows/{workflow_id}/cancel",
        json={"reason": "wrong sample"},
        headers=await as_operator(api, "ana"),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "cancelled"
    assert {t["name"]: t["status"] for t in body["tasks"]} == {
        "long": "cancelled",
        "after": "cancelled",
    }
    assert await process_gone(pid), "the task's process survived the cancel"
    history = (await api.get(f"/api/workflows/{workflow_id}/history")).json()
    cancelled = [h for h in history if h["to_status"] == "cancelled" and h["task_name"] is None]
    assert cancelled and (cancelled[0]["actor"], cancelled[0]["reason"]) == (
        "user:ana",
        "wrong sample",
    )


async def test_pause_lets_running_tasks_finish_and_resume_continues(api):
    workflow_id = await submit(
        api,
        workflow(
            task(
                "a",
                executor="python",
                params={"function": "laf_runner.library:sleep", "seconds": 0.6},
            ),
            task("b", "a"),
            task("c", "b"),
        ),
    )
    await wait_for_task(api, workflow_id, "a", "running")
    paused = await api.post(f"/api/workflows/{workflow_id}/pause", json={"reason": "lunch"})
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    await wait_for_task(api, workflow_id, "a", "succeeded")
    await asyncio.sleep(0.5)
    state = (await api.get(f"/api/workflows/{workflow_id}")).json()
    assert state["status"] == "paused"
    assert by_name(state)["b"]["status"] == "pending" and by_name(state)["b"]["attempt"] == 0
    resumed = await api.post(f"/api/workflows/{workflow_id}/resume")
    assert resumed.status_code == 200
    result = await wait_for_end(api, workflow_id)
    assert result["status"] == "succeeded"
    assert all(t["attempt"] == 1 for t in result["tasks"])


async def test_operator_retry_after_a_failure_succeeds_on_the_second_attempt(api):
    second_time_lucky = [
        "sh",
        "-c",
        'test "$LAF_ATTEMPT" = 2 || { echo "column pressure" >&2; exit 2; }',
    ]
    workflow_id = await submit(
        api,
        workflow(
            task(
                "inject",
                executor="local",
                retry={"max_attempts": 1},
                params={"command": second_time_lucky},
            ),
            task("integrate", "inject"),
        ),
    )
    failed = await wait_for_end(api, workflow_id)
    assert failed["status"] == "failed" and by_name(failed)["integrate"]["status"] == "skipped"
    retried = await api.post(
        f"/api/workflows/{workflow_id}/tasks/inject/retry",
        json={"reason": "column replaced"},
        headers=await as_operator(api, "ben"),
    )
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "running"
    result = await wait_for_end(api, workflow_id)
    assert result["status"] == "succeeded"
    inject = by_name(result)["inject"]
    assert [(a["attempt"], a["status"]) for a in inject["attempts"]] == [
        (1, "failed"),
        (2, "succeeded"),
    ]
    assert inject["attempts"][0]["error"] == "exit code 2: column pressure"
    history = (await api.get(f"/api/workflows/{workflow_id}/history")).json()
    inject_history = [
        (h["to_status"], h["attempt"], h["actor"], h["reason"])
        for h in history
        if h["task_name"] == "inject"
    ]
    assert ("failed", 1, inject_history[2][2], "exit code 2: column pressure") in inject_history
    assert ("pending", 1, "user:ben", "column replaced") in inject_history
    assert [s for s, *_ in inject_history][-2:] == ["running", "succeeded"]


async def test_skipping_a_failed_task_lets_its_dependents_run(api):
    workflow_id = await submit(
        api,
        workflow(
            task(
                "optional",
                executor="local",
                retry={"max_attempts": 1},
                params={"command": ["false"]},
            ),
            task(
                "report",
                "optional",
                executor="python",
                params={"function": "laf_runner.library:echo"},
            ),
        ),
    )
    assert (await wait_for_end(api, workflow_id))["status"] == "failed"
    skipped = await api.post(
        f"/api/workflows/{workflow_id}/tasks/optional/skip", json={"reason": "not needed"}
    )
    assert skipped.status_code == 200, skipped.text
    result = await wait_for_end(api, workflow_id)
    assert result["status"] == "succeeded"
    assert by_name(result)["optional"]["status"] == "skipped"
    assert by_name(result)["report"]["outputs"]["inputs"] == {"optional": {}}


async def test_a_manual_step_waits_for_an_operator_and_its_outputs_flow_on(api):
    workflow_id = await submit(
        api,
        workflow(
            task(
                "dissolve",
                executor="manual",
                params={"instructions": "Dissolve in 100 mL mobile phase"},
            ),
            task(
                "check",
                "dissolve",
                executor="python",
                params={"function": "laf_runner.library:echo"},
            ),
        ),
    )
    waiting = await wait_for_task(api, workflow_id, "dissolve", "running")
    assert waiting["params"]["instructions"] == "Dissolve in 100 mL mobile phase"
    await asyncio.sleep(0.3)
    assert (await wait_for_task(api, workflow_id, "dissolve", "running"))["finished_at"] is None
    done = await api.post(
        f"/api/workflows/{workflow_id}/tasks/dissolve/complete",
        json={"reason": "done at bench 3", "outputs": {"volume_ml": 100.0}},
    )
    assert done.status_code == 200, done.text
    result = await wait_for_end(api, workflow_id)
    assert result["status"] == "succeeded"
    assert by_name(result)["check"]["outputs"]["inputs"] == {"dissolve": {"volume_ml": 100.0}}


@pytest.mark.parametrize("scenario", ["finished", "running"])
async def test_illegal_transitions_are_refused_with_409_and_change_nothing(api, scenario, tmp_path):
    if scenario == "finished":
        workflow_id = await submit(api, workflow(task("a")))
        await wait_for_end(api, workflow_id)
        refused = [
            ("cancel", REASON, "already ended (succeeded)"),
            ("pause", REASON, "only a running workflow can be paused (it is succeeded)"),
            ("resume", REASON, "only a paused workflow can be resumed (it is succeeded)"),
            ("tasks/a/retry", REASON, "only a failed task can be retried ('a' is succeeded)"),
            (
                "tasks/a/skip",
                REASON,
                "only a pending, waiting, queued or failed task can be skipped",
            ),
            ("tasks/a/complete", REASON, "only a manual task can be completed ('a' runs on noop)"),
        ]
    else:
        workflow_id = await submit(
            api, workflow(task("a", executor="local", params={"command": sleeper(30)}))
        )
        await wait_for_task(api, workflow_id, "a", "running")
        refused = [
            ("resume", REASON, "only a paused workflow can be resumed (it is running)"),
            ("tasks/a/skip", REASON, "('a' is running)"),
            ("tasks/a/retry", REASON, "('a' is running)"),
        ]
    before = (await api.get(f"/api/workflows/{workflow_id}/history")).json()
    for action, body, message in refused:
        response = await api.post(f"/api/workflows/{workflow_id}/{action}", json=body)
        assert response.status_code == 409, (action, response.text)
        assert message in response.json()["detail"], (action, response.json())
    assert (await api.get(f"/api/workflows/{workflow_id}/history")).json() == before
    no_reason = await api.post(f"/api/workflows/{workflow_id}/tasks/a/skip", json={})
    assert no_reason.status_code == 422
    assert (
        await api.post(f"/api/workflows/{workflow_id}/tasks/ghost/skip", json=REASON)
    ).status_code == 404
    if scenario == "running":
        await api.post(f"/api/workflows/{workflow_id}/cancel", json=REASON)
