import asyncio
import atexit
import os
import shutil
import sys
import tempfile
import uuid

import pytest

from laf_core.contracts.reports import ClaimedTask
from laf_runner.executors import Context, TaskFailed, load

# Attempt folders stay until a runner's report is accepted: these tests have no runner.
CTX = Context(runner_id="test-runner", workdir=tempfile.mkdtemp(prefix="laf-test-"))
atexit.register(shutil.rmtree, CTX.workdir, True)


def claimed(executor: str, params: dict, inputs: dict | None = None, timeout_s=None) -> ClaimedTask:
    return ClaimedTask(
        task_id=uuid.uuid4(),
        workflow_id=uuid.uuid4(),
        name="t",
        executor=executor,
        attempt=2,
        params=params,
        timeout_s=timeout_s,
        inputs=inputs or {},
    )


async def test_noop_returns_its_outputs_param():
    assert await load("noop").run(claimed("noop", {"outputs": {"x": 1}}), CTX) == {"x": 1}
    assert await load("noop").run(claimed("noop", {}), CTX) == {}


async def test_python_calls_sync_and_async_functions_with_inputs_and_params():
    python = load("python")
    run = python.run
    out = await run(
        claimed(
            "python",
            {"function": "laf_runner.library:add", "start": 1},
            inputs={"a": {"value": 2}, "b": {"value": 3}},
        ),
        CTX,
    )
    assert out == {"value": 6}
    out = await run(
        claimed("python", {"function": "laf_runner.library:sleep", "seconds": 0.01}), CTX
    )
    assert out == {"slept": 0.01}
    await python.close()


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        ("laf_runner.library:fail", "RuntimeError: failed on purpose"),
        ("no_such_module_xyz:f", "cannot import module 'no_such_module_xyz'"),
        ("laf_runner.library:nothing_here", "is not a function"),
        ("types:SimpleNamespace", "returned SimpleNamespace, not a JSON object"),
    ],
)
async def test_python_failures_say_why(function, expected):
    python = load("python")
    try:
        with pytest.raises(TaskFailed, match=expected):
            await python.run(claimed("python", {"function": function}), CTX)
    finally:
        await python.close()


async def test_local_gets_inputs_and_identity_and_returns_outputs():
    script = (
        "import json, os\n"
        "inputs = json.load(open(os.environ['LAF_INPUTS']))\n"
        "ids = {k: os.environ[k] for k in ('LAF_WORKFLOW_ID','LAF_TASK_ID','LAF_TASK_NAME','LAF_ATTEMPT','TRACEPARENT')}\n"
        "json.dump({'sum': inputs['a']['value'] + 1, **ids, 'secret': os.environ.get('LAF_WEBHOOK_SECRET')},"
        " open(os.environ['LAF_OUTPUTS'], 'w'))\n"
        "print('hello'); print(os.environ['EXTRA'])\n"
    )
    task = claimed(
        "local",
        {"command": [sys.executable, "-c", script], "env": {"EXTRA": "yes"}},
        inputs={"a": {"value": 41}},
    )
    os.environ["LAF_WEBHOOK_SECRET"] = "must-not-leak"
    try:
        out = await load("local").run(task, CTX)
    finally:
        del os.environ["LAF_WEBHOOK_SECRET"]
    assert out["sum"] == 42
    assert out["LAF_TASK_ID"] == str(task.task_id)
    assert out["LAF_WORKFLOW_ID"] == str(task.workflow_id)
    assert (out["LAF_TASK_NAME"], out["LAF_ATTEMPT"]) == ("t", "2")
    assert out["secret"] is None
    assert out["TRACEPARENT"] == f"00-{task.workflow_id.hex}-{task.task_id.hex[:16]}-01"
    assert out["exit_code"] == 0
    assert out["stdout_tail"] == "hello\nyes\n"


async def test_local_non_zero_exit_fails_with_the_last_stderr_line():
    task = claimed(
        "local", {"command": ["sh", "-c", "echo first >&2; echo 'disk full' >&2; exit 3"]}
    )
    with pytest.raises(TaskFailed) as info:
        await load("local").run(task, CTX)
    assert info.value.error == "exit code 3: disk full"
    assert info.value.outputs is not None and info.value.outputs["exit_code"] == 3


async def test_local_missing_program_and_bad_outputs_fail_clearly():
    with pytest.raises(TaskFailed, match="cannot start 'no-such-program-xyz'"):
        await load("local").run(claimed("local", {"command": ["no-such-program-xyz"]}), CTX)
    bad = claimed("local", {"command": ["sh", "-c", "echo '[1,2]' > $LAF_OUTPUTS"]})
    with pytest.raises(TaskFailed, match="must hold a JSON object"):
        await load("local").run(bad, CTX)


async def test_cancelling_a_local_task_kills_its_process_group(tmp_path):
    pid_file = tmp_path / "pid"
    task = claimed("local", {"command": ["sh", "-c", f"sleep 60 & echo $! > {pid_file}; wait"]})
    running = asyncio.create_task(load("local").run(task, CTX))
    for _ in range(100):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        await asyncio.sleep(0.02)
    child = int(pid_file.read_text())
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert await _gone(child), "the task's child process survived the cancel"


async def _gone(pid: int) -> bool:
    """True once `pid` no longer runs (exited, or a zombie left for init to reap)."""
    for _ in range(50):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().split(") ")[1].startswith("Z"):
                    return True
        except FileNotFoundError:
            return True
        await asyncio.sleep(0.02)
    return False


def test_an_unknown_executor_is_refused():
    with pytest.raises(ValueError, match="no executor 'teleport'"):
        load("teleport")


async def test_a_restarted_runner_follows_a_local_attempt_its_killed_predecessor_started(tmp_path):
    from laf_runner.executors import local

    ctx = Context(runner_id="new", workdir=str(tmp_path))
    script = 'sleep 0.5; echo done; echo \'{"v": 1}\' > "$LAF_OUTPUTS"'
    task = claimed("local", {"command": ["sh", "-c", script]})
    runner = (
        "import asyncio, sys\n"
        "from laf_core.contracts.reports import ClaimedTask\n"
        "from laf_runner.executors import Context, local\n"
        "task = ClaimedTask.model_validate_json(sys.argv[1])\n"
        "asyncio.run(local.LocalExecutor().run(task, Context('old', sys.argv[2])))\n"
    )
    old = await asyncio.create_subprocess_exec(
        sys.executable, "-c", runner, task.model_dump_json(), str(tmp_path)
    )
    pid_file = tmp_path / "laf-attempts" / f"{task.task_id}-{task.attempt}" / "pid"
    async with asyncio.timeout(10):
        while not pid_file.exists():
            await asyncio.sleep(0.02)
    old.kill()  # kill -9 the runner while its task runs
    await old.wait()

    found = await local.LocalExecutor().recover(ctx)
    assert [r.task.task_id for r in found] == [task.task_id]
    outputs = await found[0].resume(found[0].task, ctx)
    assert (outputs["v"], outputs["exit_code"], outputs["stdout_tail"]) == (1, 0, "done\n")
    # The folder stays until the runner's report of it is accepted; then the runner removes it.
    key = f"{task.task_id}-{task.attempt}"
    assert [p.name for p in (tmp_path / "laf-attempts").iterdir()] == [key]
    ctx.store.remove(key)
    assert list((tmp_path / "laf-attempts").iterdir()) == []


async def test_recover_leaves_attempts_of_a_live_runner_alone(tmp_path):
    from laf_runner.executors import local

    ctx = Context(runner_id="live", workdir=str(tmp_path))
    running = asyncio.create_task(
        local.LocalExecutor().run(claimed("local", {"command": ["sleep", "5"]}), ctx)
    )
    async with asyncio.timeout(10):
        while not list(tmp_path.glob("laf-attempts/*/pid")):
            await asyncio.sleep(0.02)
    assert await local.LocalExecutor().recover(ctx) == []
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running


async def test_local_outputs_larger_than_the_limit_fail_clearly_instead_of_being_read():
    big = claimed(
        "local",
        {"command": ["sh", "-c", 'head -c 17000000 /dev/zero | tr "\\0" " " > "$LAF_OUTPUTS"']},
    )
    with pytest.raises(TaskFailed, match="LAF_OUTPUTS is larger than 16 MiB"):
        await load("local").run(big, CTX)
