"""`local`: run params.command (argv) as a subprocess on the runner host.

The process gets LAF_INPUTS (a JSON file mapping each dependency's name to its
outputs), LAF_OUTPUTS (where it may write a JSON object), LAF_WORKFLOW_ID,
LAF_TASK_ID, LAF_TASK_NAME, LAF_ATTEMPT and TRACEPARENT, on top of the runner's
environment without LAF's own settings (no secrets leak into tasks) and
params.env. Exit 0 is success. Outputs carry exit_code and the tails of
stdout and stderr. Cancelling the run kills the whole process group.

Each attempt lives in its own folder under the runner's workdir: the claimed
task, the process id, its stdout and stderr, and the exit status, written by a
small shell wrapper. The runner holds a lock on the folder while it owns the
attempt, so when a runner is killed and starts again, it finds the attempts
whose owner died (their lock is free) and follows them to the end instead of
losing them (`recover`).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from laf_core.contracts.reports import ClaimedTask
from laf_core.tracing import traceparent
from laf_runner.executors import Context, Recovered, TaskFailed

TAIL_BYTES = 4000
POLL_S = 0.05
# Runs the command with its output in files, then records its exit status: all of
# it survives the runner, so a restarted runner can pick the attempt up.
WRAPPER = (
    'd=$1; shift; "$@" >"$d/stdout" 2>"$d/stderr"; '
    'echo $? >"$d/exit_status.tmp" && mv "$d/exit_status.tmp" "$d/exit_status"'
)


def attempts_folder(ctx: Context) -> Path:
    return Path(ctx.workdir or tempfile.gettempdir()) / "laf-attempts"


def _environment(task: ClaimedTask, folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAF_")}
    env.update(task.params.get("env") or {})
    env.update(
        LAF_INPUTS=str(folder / "inputs.json"),
        LAF_OUTPUTS=str(folder / "outputs.json"),
        LAF_WORKFLOW_ID=str(task.workflow_id),
        LAF_TASK_ID=str(task.task_id),
        LAF_TASK_NAME=task.name,
        LAF_ATTEMPT=str(task.attempt),
        TRACEPARENT=traceparent(task.workflow_id, task.task_id),
    )
    return env


@dataclass
class _Attempt:
    """One attempt's folder, locked by the runner that owns it."""

    folder: Path
    lock: IO[str]

    @classmethod
    def claim(cls, folder: Path, create: bool) -> _Attempt | None:
        """Lock `folder` (creating it); None when another live runner holds it."""
        if create:
            folder.mkdir(parents=True, exist_ok=False)
        lock = open(folder / "lock", "a")  # noqa: SIM115 - held for the attempt's life
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            return None
        return cls(folder, lock)

    def pid(self) -> int | None:
        with contextlib.suppress(FileNotFoundError, ValueError):
            return int((self.folder / "pid").read_text())
        return None

    def exit_status(self) -> int | None:
        with contextlib.suppress(FileNotFoundError, ValueError):
            return int((self.folder / "exit_status").read_text())
        return None

    def kill(self) -> None:
        pid = self.pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)

    def release(self) -> None:
        self.lock.close()
        shutil.rmtree(self.folder, ignore_errors=True)


async def run(task: ClaimedTask, ctx: Context) -> dict[str, Any]:
    folder = attempts_folder(ctx) / f"{task.task_id}-{task.attempt}"
    if folder.exists():  # a stale folder of this very attempt: never run an attempt twice
        raise TaskFailed(f"attempt {task.attempt} was already started on this host")
    attempt = _Attempt.claim(folder, create=True)
    assert attempt is not None
    try:
        (folder / "task.json").write_text(task.model_dump_json())
        (folder / "inputs.json").write_text(json.dumps(task.inputs))
        command = task.params["command"]
        try:
            process = await asyncio.create_subprocess_exec(
                "sh",
                "-c",
                WRAPPER,
                "laf-local",
                str(folder),
                *command,
                cwd=task.params.get("cwd") or folder,
                env=_environment(task, folder),
                stdin=asyncio.subprocess.DEVNULL,
                start_new_session=True,  # its own process group, so a kill reaches children
            )
        except OSError as exc:
            raise TaskFailed(
                f"cannot start the shell for {command[0]!r}: {exc.strerror or exc}"
            ) from None
        (folder / "pid").write_text(str(process.pid))
        try:
            await process.wait()
        finally:
            if process.returncode is None:
                attempt.kill()
                with contextlib.suppress(Exception):
                    await asyncio.shield(process.wait())
        return _result(task, attempt)
    finally:
        attempt.release()


async def recover(ctx: Context) -> list[Recovered]:
    """Attempts left by a runner that died on this host: follow each to its end."""
    found = []
    root = attempts_folder(ctx)
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        attempt = _Attempt.claim(folder, create=False) if folder.is_dir() else None
        if attempt is None:
            continue  # owned by a live runner
        try:
            task = ClaimedTask.model_validate_json((folder / "task.json").read_text())
        except (OSError, ValueError):
            attempt.release()  # never got going: nothing to follow
            continue
        found.append(Recovered(task, _follower(attempt)))
    return found


def _follower(attempt: _Attempt) -> Any:
    async def follow(task: ClaimedTask, ctx: Context) -> dict[str, Any]:
        try:
            while attempt.exit_status() is None:
                pid = attempt.pid()
                if pid is None or not _alive(pid):
                    if attempt.exit_status() is not None:
                        break
                    raise TaskFailed("lost: the process ended while its runner was down")
                await asyncio.sleep(POLL_S)
            return _result(task, attempt)
        except asyncio.CancelledError:
            attempt.kill()
            raise
        finally:
            attempt.release()

    return follow


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as stream:
            stream.seek(max(0, path.stat().st_size - TAIL_BYTES))
            return stream.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def _result(task: ClaimedTask, attempt: _Attempt) -> dict[str, Any]:
    folder = attempt.folder
    exit_code = attempt.exit_status()
    stderr = _tail(folder / "stderr")
    outputs = {
        **_read_outputs(folder / "outputs.json"),
        "exit_code": exit_code,
        "stdout_tail": _tail(folder / "stdout"),
        "stderr_tail": stderr,
    }
    if exit_code == 127 and "not found" in stderr:
        raise TaskFailed(f"cannot start {task.params['command'][0]!r}: not found", outputs)
    if exit_code != 0:
        last_line = next((line for line in reversed(stderr.splitlines()) if line.strip()), "")
        status = "killed" if exit_code is None else f"exit code {exit_code}"
        raise TaskFailed(status + (f": {last_line}" if last_line else ""), outputs)
    return outputs


def _read_outputs(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        value = json.loads(path.read_text() or "{}")
    except ValueError as exc:
        raise TaskFailed(f"LAF_OUTPUTS is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise TaskFailed("LAF_OUTPUTS must hold a JSON object")
    return value


class LocalExecutor:
    """The `local` executor as the runner loads it: callable, and able to `recover`."""

    async def __call__(self, task: ClaimedTask, ctx: Context) -> dict[str, Any]:
        return await run(task, ctx)

    async def recover(self, ctx: Context) -> list[Recovered]:
        return await recover(ctx)
