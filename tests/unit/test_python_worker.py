"""The `python` executor runs functions in worker processes: whatever a function does, the
runner (this test's process) lives on, the attempt fails with a useful error, and the pool
replaces what died."""

import asyncio
import os
import signal
import tempfile
import uuid

import pytest

from laf_core.contracts.reports import ClaimedTask
from laf_runner.executors import Context, TaskFailed
from laf_runner.executors.python import PythonExecutor
from laf_runner.settings import RunnerSettings

CTX = Context(runner_id="test-runner", workdir=tempfile.mkdtemp(prefix="laf-test-"))


def call(function: str, **params) -> ClaimedTask:
    return ClaimedTask(
        task_id=uuid.uuid4(),
        workflow_id=uuid.uuid4(),
        name="t",
        executor="python",
        attempt=1,
        params={"function": function, **params},
        timeout_s=None,
        inputs={},
    )


@pytest.fixture
async def python():
    executor = PythonExecutor(RunnerSettings(python_workers=2))
    yield executor
    await executor.close()


async def worker_pid(python) -> int:
    return (await python.run(call("tests.hostile_tasks:pid"), CTX))["pid"]


@pytest.mark.parametrize(
    ("function", "error"),
    [
        ("venv.__main__:x", "SystemExit: 2 (raised by the task's code"),  # at import
        ("tests.hostile_tasks:exit_now", "SystemExit: 3"),
        ("tests.hostile_tasks:interrupt", "KeyboardInterrupt"),
        ("tests.hostile_tasks:segfault", "died: killed by SIGSEGV"),
        ("tests.hostile_tasks:hard_exit", "died: exit code 7"),
    ],
)
async def test_a_function_that_exits_interrupts_or_crashes_fails_its_attempt_only(
    python, function, error
):
    with pytest.raises(TaskFailed) as failed:
        await python.run(call(function), CTX)
    assert error in failed.value.error
    assert os.getpid() != await worker_pid(python)  # ran elsewhere; the next task runs fine


async def test_a_crashed_worker_is_replaced_and_the_pool_keeps_its_warm_workers(python):
    first = await worker_pid(python)
    with pytest.raises(TaskFailed, match="killed by SIGSEGV"):
        await python.run(call("tests.hostile_tasks:segfault"), CTX)
    assert len(python._idle) >= 1 and all(w.alive for w, _ in python._idle)
    after = await worker_pid(python)
    assert after != os.getpid()
    assert _gone(first) or first == after  # the crashed one is gone, a live one serves


async def test_a_sync_function_that_never_returns_is_killed_at_its_timeout(python):
    task = asyncio.create_task(python.run(call("tests.hostile_tasks:spin"), CTX))
    async with asyncio.timeout(10):
        while not python._busy:
            await asyncio.sleep(0.01)
    busy = [w.process.pid for w in python._busy]
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(task, 0.5)  # what the runner does with timeout_s
    assert len(busy) == 1
    async with asyncio.timeout(10):  # killed, not left spinning
        while not _gone(busy[0]):
            await asyncio.sleep(0.02)
    assert await worker_pid(python) != os.getpid()


async def test_a_function_cannot_corrupt_the_workers_pipes(python):
    assert await python.run(call("tests.hostile_tasks:chatty"), CTX) == {"read": ""}


async def test_import_and_reference_errors_say_what(python):
    with pytest.raises(TaskFailed, match="cannot import module 'no_such_module_xyz'"):
        await python.run(call("no_such_module_xyz:f"), CTX)
    with pytest.raises(TaskFailed, match=r"'laf_runner\.library:nothing' is not a function"):
        await python.run(call("laf_runner.library:nothing"), CTX)
    with pytest.raises(TaskFailed, match="must be 'module:function'"):
        await python.run(call("just_a_name"), CTX)


async def test_the_worker_does_not_see_the_runners_secrets(python, monkeypatch):
    monkeypatch.setenv("LAF_WEBHOOK_SECRET", "must-not-leak")
    await python.close()  # workers started from now on get the environment above
    fresh = PythonExecutor(RunnerSettings(python_workers=1))
    try:
        env = await fresh.run(call("laf_runner.library:echo", value="x"), CTX)
        assert env == {"value": "x", "inputs": {}}
        pid = await worker_pid(fresh)
        with open(f"/proc/{pid}/environ", "rb") as environ:
            assert b"LAF_WEBHOOK_SECRET" not in environ.read()
    finally:
        await fresh.close()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(") ", 1)[1].startswith("Z")


assert signal.SIGSEGV  # the crash test relies on the signal's name


async def test_workers_are_started_warm_when_the_runner_starts(python):
    assert await python.recover(CTX) == []  # nothing to follow; two workers booting
    assert len(python._idle) == 2 and all(w.alive for w, _ in python._idle)
    warm = {w.process.pid for w, _ in python._idle}
    assert await worker_pid(python) in warm
