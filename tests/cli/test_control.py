"""Operator actions from the command line: cancel, pause, resume, retry, skip, complete."""

from __future__ import annotations

import json

from tests.cli.conftest import wait_for, write

MANUAL = {
    "name": "cli manual step",
    "tasks": [
        {"name": "dissolve", "executor": "manual", "params": {"instructions": "100 mL"}},
        {
            "name": "check",
            "executor": "python",
            "depends_on": ["dissolve"],
            "params": {"function": "laf_runner.library:echo"},
        },
    ],
}
FAILING = {
    "name": "cli retry and skip",
    "tasks": [
        {
            "name": "boom",
            "executor": "local",
            "params": {"command": ["false"]},
            "retry": {"max_attempts": 1},
        },
        {
            "name": "report",
            "executor": "python",
            "depends_on": ["boom"],
            "params": {"function": "laf_runner.library:echo"},
        },
    ],
}


async def submit(laf, tmp_path, document: dict) -> str:
    result = await laf("submit", write(tmp_path / "doc.json", json.dumps(document)), "-q")
    assert result.code == 0, result.err
    return result.out.strip()


async def test_pause_resume_and_complete_a_manual_step_with_outputs(laf, api, tmp_path):
    workflow_id = await submit(laf, tmp_path, MANUAL)
    await wait_for(api, workflow_id, "dissolve", "running")

    paused = await laf("pause", workflow_id, "--reason", "lunch", "-o", "json")
    assert paused.code == 0, paused.err
    assert paused.json()["status"] == "paused"
    resumed = await laf("resume", workflow_id)
    assert resumed.code == 0 and "resumed" in resumed.out and "running" in resumed.out

    not_json = await laf("complete", workflow_id, "dissolve", "-r", "done", "--outputs", "{volume")
    assert not_json.code == 2 and "--outputs: not JSON" in not_json.err
    a_list = await laf("complete", workflow_id, "dissolve", "-r", "done", "--outputs", "[1]")
    assert a_list.code == 2 and "must be a JSON object" in a_list.err
    outputs = write(tmp_path / "outputs.yaml", "volume_ml: 100.0\nanalyst: ana\n")
    done = await laf(
        "complete",
        workflow_id,
        "dissolve",
        "--reason",
        "done at bench 3",
        "--outputs",
        f"@{outputs}",
    )
    assert done.code == 0, done.err
    assert "completed dissolve" in done.out

    result = await wait_for(api, workflow_id, None, "succeeded")
    check = {t["name"]: t for t in result["tasks"]}["check"]
    assert check["outputs"]["inputs"] == {"dissolve": {"volume_ml": 100.0, "analyst": "ana"}}
    history = (await api.get(f"/api/workflows/{workflow_id}/history")).json()
    reasons = {(h["to_status"], h["reason"]) for h in history if h["actor"] == "user:tester"}
    assert {("paused", "lunch"), ("succeeded", "done at bench 3")} <= reasons


async def test_cancel_needs_a_reason_and_a_second_cancel_is_refused(laf, api, tmp_path):
    workflow_id = await submit(laf, tmp_path, MANUAL)
    await wait_for(api, workflow_id, "dissolve", "running")

    no_reason = await laf("cancel", workflow_id)
    assert no_reason.code == 2 and "--reason" in no_reason.err
    cancelled = await laf("cancel", workflow_id, "--reason", "wrong sample", "-o", "json")
    assert cancelled.code == 0, cancelled.err
    assert cancelled.json()["status"] == "cancelled"
    watched = await laf("watch", workflow_id)
    assert watched.code == 1 and "cancelled" in watched.out

    again = await laf("cancel", workflow_id, "--reason", "twice")
    assert again.code == 3
    assert again.err.strip().startswith("laf: refused: ")
    assert "Traceback" not in again.err


async def test_retry_then_skip_a_failed_task(laf, api, tmp_path):
    workflow_id = await submit(laf, tmp_path, FAILING)
    assert (await laf("watch", workflow_id)).code == 1

    retried = await laf("retry", workflow_id, "boom", "--reason", "column replaced")
    assert retried.code == 0, retried.err
    assert "retrying boom" in retried.out
    await wait_for(api, workflow_id, None, "failed")  # the second attempt fails too

    skipped = await laf("skip", workflow_id, "boom", "--reason", "not needed", "-o", "json")
    assert skipped.code == 0, skipped.err
    assert {t["name"]: t["status"] for t in skipped.json()["tasks"]}["boom"] == "skipped"
    assert (await laf("watch", workflow_id)).code == 0
    shown = (await laf("show", workflow_id, "-o", "json")).json()
    boom = {t["name"]: t for t in shown["tasks"]}["boom"]
    assert [a["attempt"] for a in boom["attempts"]] == [1, 2]
    table = await laf("show", workflow_id)
    assert "attempts" in table.out and "exit code 1" in table.out

    unknown = await laf("skip", workflow_id, "ghost", "--reason", "x")
    assert unknown.code == 3 and "laf: not found:" in unknown.err
