"""Hostile tasks against the real stack (the four services as processes, real PostgreSQL
and RabbitMQ): none takes the runner down, none wedges it, and a finished result survives
an API outage and a runner restart.

Each reproduction of the issue "Bad input and hostile load" on the runner side, with the
clear answer it must now give."""

import asyncio
import json
import os
from pathlib import Path

import pytest

from devstack import running_stack
from laf_core.testing.factories import task, workflow
from laf_runner import storable
from tests.e2e.conftest import ARTIFACTS, submit, wait_for_end

ROOT = Path(__file__).resolve().parents[2]
ONCE = {"retry": {"max_attempts": 1}}


@pytest.fixture(scope="module")
async def stack(pg_template, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("runner-work")
    settings = {
        "PYTHONPATH": str(ROOT),  # so that its workers can import tests.hostile_tasks
        "LAF_RUNNER_WORKDIR": str(workdir),
        "LAF_RUNNER_HEARTBEAT_S": "1",
        "LAF_COORDINATOR_SWEEP_S": "0.5",
    }
    async with running_stack(pg_template, ARTIFACTS / "test_runner_hostile", **settings) as stack:
        stack.workdir = workdir
        yield stack


def by_name(result: dict) -> dict[str, dict]:
    return {t["name"]: t for t in result["tasks"]}


async def assert_runner_still_serves(api, stack, pid: int) -> None:
    runner = stack.processes["runner"].popen
    assert runner.poll() is None and runner.pid == pid, "the runner process ended"
    echo = task("echo", executor="python", params={"function": "laf_runner.library:echo"})
    after = await wait_for_end(api, await submit(api, workflow(echo, name="after")), 20)
    assert after["status"] == "succeeded", after


async def test_python_tasks_that_exit_interrupt_crash_or_hang_fail_and_the_runner_lives(api, stack):
    pid = stack.processes["runner"].popen.pid

    def python(name: str, function: str, **fields) -> dict:
        return task(name, executor="python", params={"function": function}, **ONCE, **fields)

    document = workflow(
        python("import-exits", "tests.hostile_import:x"),  # venv.__main__ is not allowed
        python("exits", "tests.hostile_tasks:exit_now"),
        python("interrupts", "tests.hostile_tasks:interrupt"),
        python("segfaults", "tests.hostile_tasks:segfault"),
        python("os-exit", "tests.hostile_tasks:hard_exit"),
        python("spins", "tests.hostile_tasks:spin", timeout_s=1),
        name="hostile python",
    )
    result = await wait_for_end(api, await submit(api, document), 30)
    errors = {name: t["error"] for name, t in by_name(result).items()}
    assert {name: t["status"] for name, t in by_name(result).items()} == dict.fromkeys(
        errors, "failed"
    )
    assert errors["import-exits"].startswith("SystemExit: 2 (raised by the task's code")
    assert errors["exits"].startswith("SystemExit: 3 (raised by the task's code")
    assert errors["interrupts"].startswith("KeyboardInterrupt")
    assert errors["segfaults"] == (
        "the python worker running tests.hostile_tasks:segfault died: killed by SIGSEGV"
    )
    assert errors["os-exit"] == (
        "the python worker running tests.hostile_tasks:hard_exit died: exit code 7"
    )
    assert errors["spins"] == "timed out after 1s"
    # The runner's lines about a dead worker name the task, as every line about a task does.
    log = (ARTIFACTS / "test_runner_hostile" / "runner.log").read_text().splitlines()
    ids = {t["id"] for t in result["tasks"]}  # the log holds earlier runs' lines too
    died = [
        json.loads(line)
        for line in log
        if "python worker for" in line and any(task_id in line for task_id in ids)
    ]
    named = {(line["workflow_id"], line["task"], line["attempt"]) for line in died}
    assert {(result["id"], "segfaults", 1), (result["id"], "os-exit", 1)} <= named
    assert all(line["trace_id"] == result["trace_id"] for line in died)
    await assert_runner_still_serves(api, stack, pid)


UNSTORABLE = {
    "nan": ["sh", "-c", "printf '%s' '{\"area\": NaN}' > \"$LAF_OUTPUTS\""],
    "nul-in-json": ["sh", "-c", 'printf \'%s\' \'{"text": "a\\u0000b"}\' > "$LAF_OUTPUTS"'],
    "nul-on-stdout": ["sh", "-c", "printf 'a\\000b'"],
}
LONG_ERROR = {"function": "tests.hostile_tasks:unstorable", "kind": "long_error"}


async def test_sixteen_unstorable_results_end_with_clear_answers_and_free_the_runner(api, stack):
    pid = stack.processes["runner"].popen.pid
    tasks = [
        task(f"{kind}-{i}", executor="local", params={"command": command}, **ONCE)
        for kind, command in UNSTORABLE.items()
        for i in range(4)
    ] + [task(f"long-error-{i}", executor="python", params=LONG_ERROR, **ONCE) for i in range(4)]
    result = await wait_for_end(api, await submit(api, workflow(*tasks, name="barrage")), 30)
    for name, t in by_name(result).items():
        kind = name.rsplit("-", 1)[0]
        if kind == "nan":
            assert (t["status"], t["error"]) == (
                "failed",
                "the task's outputs cannot be stored: outputs.area is NaN, which JSON cannot hold",
            )
        elif kind == "nul-in-json":
            assert (t["status"], t["outputs"]["text"]) == ("succeeded", "a\\u0000b")
        elif kind == "nul-on-stdout":
            assert (t["status"], t["outputs"]["stdout_tail"]) == ("succeeded", "a\\u0000b")
        else:
            assert t["status"] == "failed"
            assert t["error"].startswith("RuntimeError: EEEE")
            assert t["error"].endswith("more characters]")
            assert len(t["error"]) <= storable.ERROR_LIMIT
    await assert_runner_still_serves(api, stack, pid)


async def test_a_result_finished_during_an_api_outage_survives_a_runner_restart(api, stack):
    effects = stack.workdir / "effects.log"
    script = f'sleep 1.5; echo "$LAF_TASK_ID $LAF_ATTEMPT" >> {effects}; echo \'{{"v": 7}}\' > "$LAF_OUTPUTS"'
    document = workflow(
        task("weigh", executor="local", params={"command": ["sh", "-c", script]}, **ONCE),
        name="outage",
    )
    workflow_id = await submit(api, document)
    async with asyncio.timeout(20):
        while (
            by_name((await api.get(f"/api/workflows/{workflow_id}")).json())["weigh"]["status"]
            != "running"
        ):
            await asyncio.sleep(0.05)
    stack.stop("api")
    kept = stack.workdir / "laf-attempts"
    async with asyncio.timeout(20):  # the process ends; its result waits on disk
        while not list(kept.glob("*/report.json")):
            await asyncio.sleep(0.05)
    stack.kill("runner")  # kill -9 while the API is still down
    stack.start("api")
    stack.start("runner")
    await asyncio.to_thread(stack.wait_ready, 60, ["api", "runner"])

    result = await wait_for_end(api, workflow_id, 30)
    weigh = by_name(result)["weigh"]
    assert (result["status"], weigh["outputs"]["v"], weigh["attempt"]) == ("succeeded", 7, 1)
    assert len(effects.read_text().splitlines()) == 1  # the step ran once
    assert list(kept.iterdir()) == []  # removed once the API accepted the result
    assert os.stat(kept).st_mode & 0o777 == 0o700
