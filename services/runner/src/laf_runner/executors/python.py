"""`python`: call params.function ("module:function") in a worker process, never the runner.

Called as function(inputs=..., params=...), where inputs maps each dependency's
name to its outputs; a sync function is called, an async one run to its end. It
must return a JSON object (or None for {}).

The function is imported and run in a worker process (`laf_runner.worker`), so
nothing it does, at import or when called, can stop or stall the runner: an
exception (SystemExit and KeyboardInterrupt too) is the attempt's error; a crash
in native code, `os._exit` or an out-of-memory kill fails the attempt with how
the worker ended; a hang is ended by the attempt's timeout, which kills the
worker (sync functions too). The worker sees the runner's import path and
environment, without LAF's own settings (no secret reaches a task).

Workers are kept warm: one per running task, started on demand, and kept
after a burst until they have been idle for a minute beyond
`LAF_RUNNER_PYTHON_WORKERS`; each is reused for up to `LAF_RUNNER_PYTHON_WORKER_MAX_TASKS`
tasks, and a worker that was killed, crashed or saw SystemExit is replaced by a
fresh one at once. A worker answers one task at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from typing import Any

from laf_core.contracts.reports import ClaimedTask
from laf_runner.executors import (
    BaseExecutor,
    Context,
    Outputs,
    Recovered,
    TaskFailed,
    task_environment,
)
from laf_runner.settings import RunnerSettings
from laf_runner.worker import HEADER

log = logging.getLogger(__name__)
MAX_ANSWER_BYTES = 64 * 1024 * 1024
IDLE_S = 60.0  # idle workers beyond LAF_RUNNER_PYTHON_WORKERS are stopped after this


class _WorkerDied(Exception):
    pass


class _Worker:
    """One worker process and its two pipes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.tasks = 0

    @classmethod
    async def start(cls) -> _Worker:
        # Returns once the process exists; its interpreter boots meanwhile, while the
        # request waits in the pipe.
        env = task_environment()
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "laf_runner.worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,  # its own process group: a kill reaches what it started
        )
        return cls(process)

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def call(self, request: bytes) -> dict[str, Any]:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        self.tasks += 1
        try:
            stdin.write(HEADER.pack(len(request)) + request)
            await stdin.drain()
            size = HEADER.unpack(await stdout.readexactly(HEADER.size))[0]
            if size > MAX_ANSWER_BYTES:
                raise TaskFailed(f"the outputs are larger than {MAX_ANSWER_BYTES // 2**20} MiB")
            answer = json.loads(await stdout.readexactly(size))
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise _WorkerDied(await self._how_it_ended()) from exc
        except (ValueError, RecursionError) as exc:
            raise TaskFailed(f"the python worker answered something unreadable: {exc}") from None
        if not isinstance(answer, dict):
            raise TaskFailed("the python worker answered something unreadable")
        return answer

    async def _how_it_ended(self) -> str:
        try:
            code = await asyncio.wait_for(self.process.wait(), 5)
        except TimeoutError:
            self.kill()
            return "it closed its pipes"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"killed by {name}"
        return f"exit code {code}"

    def kill(self) -> None:
        # The worker leads its own process group, so this reaches it and what it started.
        # (Not Process.kill(): it polls, reaping the child behind asyncio's watcher.)
        if self.alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)

    async def stop(self) -> None:
        """Kill the worker and reap it."""
        self.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self.process.wait()), 5)
        if self.process.stdin is not None:
            self.process.stdin.close()


class PythonExecutor(BaseExecutor):
    """Runs each attempt in a warm worker process (a pool that replaces what dies)."""

    def __init__(self, settings: RunnerSettings | None = None) -> None:
        settings = settings or RunnerSettings()
        self.idle_max = settings.python_workers
        self.max_tasks = settings.python_worker_max_tasks
        self._idle: list[tuple[_Worker, float]] = []  # with when each became idle
        self._busy: set[_Worker] = set()
        self._closed = False

    async def _take(self) -> _Worker:
        while self._idle:
            worker, _ = self._idle.pop()
            if worker.alive:
                return worker
            await worker.stop()
        return await _Worker.start()

    async def _give_back(self, worker: _Worker) -> None:
        """Keep `worker` warm; stop the longest-idle ones beyond `idle_max` that have not
        been needed for IDLE_S (a burst keeps its workers, a quiet runner few)."""
        if self._closed:
            await worker.stop()
            return
        self._idle.append((worker, time.monotonic()))
        while len(self._idle) > self.idle_max and time.monotonic() - self._idle[0][1] > IDLE_S:
            await self._idle.pop(0)[0].stop()

    async def _replace(self, worker: _Worker) -> None:
        """`worker` ends (killed, crashed, retired): reap it and keep one warm in its place."""
        await worker.stop()
        if not self._closed and len(self._idle) < self.idle_max:
            await self._give_back(await _Worker.start())

    async def recover(self, ctx: Context) -> list[Recovered]:
        """Nothing to follow (a python attempt ends with its worker, and so with its runner);
        called as the runner starts, so it starts the warm workers: the first task then
        finds one booted instead of waiting ~60 ms for it."""
        while len(self._idle) < min(self.idle_max, 2) and not self._closed:
            self._idle.append((await _Worker.start(), time.monotonic()))
        return []

    async def run(self, task: ClaimedTask, ctx: Context) -> Outputs:
        reference = str(task.params.get("function", ""))
        if ":" not in reference:
            raise TaskFailed(f"params.function must be 'module:function', not {reference!r:.200}")
        params = {k: v for k, v in task.params.items() if k != "function"}
        request = json.dumps({"function": reference, "inputs": task.inputs, "params": params})
        worker = await self._take()
        self._busy.add(worker)
        answer: dict[str, Any] | None = None
        try:
            answer = await worker.call(request.encode())
        except _WorkerDied as exc:
            log.warning("python worker for %s died: %s", task.task_id, exc)
            raise TaskFailed(f"the python worker running {reference} died: {exc}") from None
        finally:
            self._busy.discard(worker)
            if answer is not None and not answer.get("retire") and worker.tasks < self.max_tasks:
                await self._give_back(worker)
            else:  # cancelled (a timeout or a cancel), crashed, or spoiled by SystemExit
                await asyncio.shield(self._replace(worker))
        if not answer.get("ok"):
            extra = {"traceback": answer["traceback"]} if answer.get("traceback") else None
            raise TaskFailed(str(answer.get("error") or "failed"), extra)
        outputs = answer.get("outputs")
        return outputs if isinstance(outputs, dict) else {}

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        await asyncio.gather(*(worker.stop() for worker in [*self._busy, *(w for w, _ in idle)]))
