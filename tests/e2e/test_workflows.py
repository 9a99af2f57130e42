"""Workflows end to end through the API, the relay, the coordinator and a runner."""

import sys
from datetime import datetime

from laf_core.testing.factories import fan_out, task, workflow
from tests.e2e.conftest import submit, wait_for_end


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def by_name(workflow_json: dict) -> dict[str, dict]:
    return {t["name"]: t for t in workflow_json["tasks"]}


def write_value_after(seconds: float, expression: str) -> list[str]:
    """A local task that sleeps, then writes {"value": <expression over inputs>}."""
    script = (
        "import json, os, time\n"
        f"time.sleep({seconds})\n"
        "inputs = json.load(open(os.environ['LAF_INPUTS']))\n"
        f"json.dump({{'value': {expression}}}, open(os.environ['LAF_OUTPUTS'], 'w'))\n"
    )
    return [sys.executable, "-c", script]


async def test_a_diamond_runs_with_outputs_flowing_and_parallel_branches(api):
    document = workflow(
        task("a", executor="python", params={"function": "laf_runner.library:echo", "value": 5}),
        task(
            "b",
            "a",
            executor="local",
            params={"command": write_value_after(0.5, "inputs['a']['value'] * 2")},
        ),
        task(
            "c",
            "a",
            executor="local",
            params={"command": write_value_after(0.5, "inputs['a']['value'] + 1")},
        ),
        task(
            "d",
            "b",
            "c",
            executor="python",
            params={"function": "laf_runner.library:add", "start": 100},
        ),
        name="diamond",
    )
    result = await wait_for_end(api, await submit(api, document))
    tasks = by_name(result)
    assert result["status"] == "succeeded", result
    assert tasks["d"]["outputs"] == {"value": 100 + 10 + 6}
    assert tasks["b"]["outputs"]["exit_code"] == 0
    # b and c ran at the same time: each started before the other finished.
    b, c = tasks["b"], tasks["c"]
    assert at(b["started_at"]) < at(c["finished_at"]) and at(c["started_at"]) < at(b["finished_at"])
    # ... and strictly after a, and d strictly after both.
    assert at(tasks["a"]["finished_at"]) <= min(at(b["started_at"]), at(c["started_at"]))
    assert at(tasks["d"]["started_at"]) >= max(at(b["finished_at"]), at(c["finished_at"]))
    assert all(t["attempt"] == 1 for t in tasks.values())
    assert at(result["started_at"]) <= at(result["finished_at"])


async def test_a_fifty_task_fan_out_and_fan_in(api):
    result = await wait_for_end(api, await submit(api, fan_out(50)))
    assert result["status"] == "succeeded"
    assert len(result["tasks"]) == 52
    assert {t["status"] for t in result["tasks"]} == {"succeeded"}
    assert {t["attempt"] for t in result["tasks"]} == {1}
    join = by_name(result)["join"]
    assert at(join["started_at"]) >= max(
        at(t["finished_at"]) for t in result["tasks"] if t["name"].startswith("leaf")
    )


async def test_a_failing_task_fails_the_workflow_and_skips_its_dependents(api):
    document = workflow(
        task("prepare", executor="noop"),
        task(
            "measure",
            "prepare",
            executor="local",
            retry={"max_attempts": 1},
            params={"command": ["sh", "-c", "echo 'pump pressure too high' >&2; exit 4"]},
        ),
        task("analyse", "measure"),
        task("report", "analyse"),
        name="failing",
    )
    result = await wait_for_end(api, await submit(api, document))
    tasks = by_name(result)
    assert result["status"] == "failed"
    assert tasks["measure"]["status"] == "failed"
    assert tasks["measure"]["error"] == "exit code 4: pump pressure too high"
    assert tasks["measure"]["outputs"]["exit_code"] == 4
    assert (tasks["analyse"]["status"], tasks["report"]["status"]) == ("skipped", "skipped")
    assert tasks["prepare"]["status"] == "succeeded"


async def test_a_failed_attempt_is_retried_after_its_backoff(api):
    flaky = ["sh", "-c", 'if [ "$LAF_ATTEMPT" = 1 ]; then echo flaky >&2; exit 1; fi']
    document = workflow(
        task(
            "flaky",
            executor="local",
            retry={"max_attempts": 3, "backoff_s": 0.3},
            params={"command": flaky},
        ),
        name="retry",
    )
    result = await wait_for_end(api, await submit(api, document))
    flaky_task = by_name(result)["flaky"]
    assert result["status"] == "succeeded"
    assert flaky_task["attempt"] == 2
    assert [(a["attempt"], a["status"], a["error"]) for a in flaky_task["attempts"]] == [
        (1, "failed", "exit code 1: flaky"),
        (2, "succeeded", None),
    ]
    gap = at(flaky_task["attempts"][1]["queued_at"]) - at(flaky_task["attempts"][0]["finished_at"])
    assert 0.14 <= gap.total_seconds() < 3  # 50-100 % of backoff_s, plus a timer's lateness


async def test_the_audit_trail_names_who_did_what(api):
    workflow_id = await submit(api, workflow(task("only")))
    await wait_for_end(api, workflow_id)
    history = (await api.get(f"/api/workflows/{workflow_id}/history")).json()
    steps = [(h["task_name"], h["to_status"], h["actor"].split(":")[0]) for h in history]
    assert steps == [
        (None, "pending", "user"),
        (None, "running", "user"),  # the submit starts it
        ("only", "queued", "user"),
        ("only", "running", "runner"),
        ("only", "succeeded", "runner"),
        (None, "succeeded", "runner"),
    ]
