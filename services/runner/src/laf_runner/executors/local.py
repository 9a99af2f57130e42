"""`local`: run params.command (argv) as a subprocess on the runner host.

The process gets LAF_INPUTS (a JSON file mapping each dependency's name to its
outputs), LAF_OUTPUTS (where it may write a JSON object), LAF_WORKFLOW_ID,
LAF_TASK_ID, LAF_TASK_NAME, LAF_ATTEMPT and TRACEPARENT, on top of the runner's
environment without LAF's own settings (no secrets leak into tasks) and
params.env. Exit 0 is success. Outputs carry exit_code and the tails of
stdout and stderr. Cancelling the run kills the whole process group.

Each attempt lives in its own folder (laf_runner.attempts: private, 0700, owner
checked): the claimed task, the process id, its stdout and stderr, and the exit
status, written by a small shell wrapper. The runner holds a lock on the folder
while it owns the attempt, so when a runner is killed and starts again, it finds
the attempts whose owner died (their lock is free) and follows them to the end
instead of losing them (`recover`). The folder is removed by the runner only
once the API accepted the attempt's result (or the attempt was stopped), so a
finished process's exit status and outputs survive an API outage and a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import pwd
import signal
from pathlib import Path

from laf_core.contracts.reports import ClaimedTask
from laf_core.telemetry import task_traceparent
from laf_runner.attempts import REPORT, Attempt
from laf_runner.executors import (
    BaseExecutor,
    Context,
    Outputs,
    Recovered,
    Run,
    TaskFailed,
    task_environment,
)
from laf_runner.executors.logs import file_tail, last_line

log = logging.getLogger(__name__)

POLL_S = 0.05
MAX_OUTPUTS_BYTES = 16 * 1024 * 1024
# Notes its own pid first (a runner killed just after starting it still leaves the
# attempt followable), runs the command with its output in files, then records its exit
# status: all of it survives the runner, so a restarted runner can pick the attempt up.
WRAPPER = (
    'd=$1; shift; echo $$ >"$d/pid"; "$@" >"$d/stdout" 2>"$d/stderr"; '
    'echo $? >"$d/exit_status.tmp" && mv "$d/exit_status.tmp" "$d/exit_status"'
)
# With a task user (LAF_RUNNER_TASK_USER): the wrapper stays the runner's; only the
# command drops to the task user, in the attempt's `work` folder (its own), with its
# inputs and outputs as open files (LAF_INPUTS=/dev/fd/4, LAF_OUTPUTS=/dev/fd/3), so it
# can reach nothing else of the runner's: not its folders, secret files nor /proc.
WRAPPER_AS_TASK_USER = (
    'd=$1; u=$2; g=$3; shift 3; echo $$ >"$d/pid"; cd "$d/work" && '
    'setpriv --reuid="$u" --regid="$g" --clear-groups --inh-caps=-all --no-new-privs -- '
    '"$@" >"$d/stdout" 2>"$d/stderr" 3<>"$d/outputs.json" 4<"$d/inputs.json"; '
    'echo $? >"$d/exit_status.tmp" && mv "$d/exit_status.tmp" "$d/exit_status"'
)


def _environment(task: ClaimedTask, folder: Path, as_task_user: bool) -> dict[str, str]:
    env = task_environment()
    env.update(task.params.get("env") or {})
    env.update(
        LAF_INPUTS="/dev/fd/4" if as_task_user else str(folder / "inputs.json"),
        LAF_OUTPUTS="/dev/fd/3" if as_task_user else str(folder / "outputs.json"),
        LAF_WORKFLOW_ID=str(task.workflow_id),
        LAF_TASK_ID=str(task.task_id),
        LAF_TASK_NAME=task.name,
        LAF_ATTEMPT=str(task.attempt),
        TRACEPARENT=task_traceparent(task.workflow_id, task.task_id),
    )
    return env


def _pid(attempt: Attempt) -> int | None:
    with contextlib.suppress(ValueError, TypeError):
        return int(attempt.read("pid") or b"")
    return None


def _exit_status(attempt: Attempt) -> int | None:
    with contextlib.suppress(ValueError, TypeError):
        return int(attempt.read("exit_status") or b"")
    return None


def _kill(attempt: Attempt) -> None:
    pid = _pid(attempt)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def _follower(attempt: Attempt) -> Run:
    async def follow(task: ClaimedTask, ctx: Context) -> Outputs:
        try:
            while _exit_status(attempt) is None:
                pid = _pid(attempt)
                if pid is None or not _alive(pid):
                    if _exit_status(attempt) is not None:
                        break
                    raise TaskFailed("lost: the process ended while its runner was down")
                await asyncio.sleep(POLL_S)
            return _result(task, attempt)
        except asyncio.CancelledError:
            _kill(attempt)
            raise

    return follow


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _result(task: ClaimedTask, attempt: Attempt) -> Outputs:
    folder = attempt.folder
    exit_code = _exit_status(attempt)
    stderr = file_tail(folder / "stderr")
    outputs = {
        **_read_outputs(folder / "outputs.json"),
        "exit_code": exit_code,
        "stdout_tail": file_tail(folder / "stdout"),
        "stderr_tail": stderr,
    }
    if exit_code == 127 and "not found" in stderr:
        raise TaskFailed(f"cannot start {task.params['command'][0]!r}: not found", outputs)
    if exit_code != 0:
        last = last_line(stderr)
        status = "killed" if exit_code is None else f"exit code {exit_code}"
        raise TaskFailed(status + (f": {last}" if last else ""), outputs)
    return outputs


def _read_outputs(path: Path) -> Outputs:
    """The JSON object the process wrote to LAF_OUTPUTS ({} if none), read up to
    MAX_OUTPUTS_BYTES (large data goes by reference, not in outputs)."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_OUTPUTS_BYTES + 1)
    except FileNotFoundError:
        return {}
    if len(raw) > MAX_OUTPUTS_BYTES:
        raise TaskFailed(f"LAF_OUTPUTS is larger than {MAX_OUTPUTS_BYTES // 2**20} MiB")
    try:
        value = json.loads(raw or b"{}")
    except (ValueError, RecursionError) as exc:
        raise TaskFailed(f"LAF_OUTPUTS is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise TaskFailed("LAF_OUTPUTS must hold a JSON object")
    return value


def task_user_ids(name: str) -> tuple[int, int]:
    """(uid, gid) of the user `local` tasks run as; ValueError when it cannot be used."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ValueError(f"LAF_RUNNER_TASK_USER={name}: no such user") from None
    if entry.pw_uid == os.geteuid():
        raise ValueError(f"LAF_RUNNER_TASK_USER={name} is the runner's own user")
    if os.geteuid() != 0:
        raise ValueError(
            f"LAF_RUNNER_TASK_USER={name}: the runner must run as root to start tasks as "
            "another user (or leave it empty: tasks then run as the runner's user)"
        )
    return entry.pw_uid, entry.pw_gid


class LocalExecutor(BaseExecutor):
    """Runs the attempt's process; `recover` follows those a killed runner left behind.
    With `task_user`, the process runs as that user (see WRAPPER_AS_TASK_USER)."""

    def __init__(self, task_user: str = "") -> None:
        self._as = task_user_ids(task_user) if task_user else None
        if not task_user:
            log.warning(
                "local tasks run as the runner's own user and can read what it can (its "
                "secret files too): set LAF_RUNNER_TASK_USER to an unprivileged user"
            )

    async def run(self, task: ClaimedTask, ctx: Context) -> Outputs:
        try:
            attempt = ctx.store.create(f"{task.task_id}-{task.attempt}")
        except FileExistsError:  # a stale folder of this very attempt: never run it twice
            raise TaskFailed(f"attempt {task.attempt} was already started on this host") from None
        folder = attempt.folder
        attempt.write("task.json", task.model_dump_json().encode())
        attempt.write("inputs.json", json.dumps(task.inputs).encode())
        command = task.params["command"]
        wrapper, as_user = [WRAPPER, str(folder)], []
        if self._as is not None:
            uid, gid = self._as
            (folder / "work").mkdir(mode=0o700)
            (folder / "outputs.json").touch(mode=0o600)
            for own in ("work", "outputs.json", "inputs.json"):
                os.chown(folder / own, uid, gid)
            wrapper, as_user = [WRAPPER_AS_TASK_USER, str(folder)], [str(uid), str(gid)]
        try:
            process = await asyncio.create_subprocess_exec(
                "sh",
                "-c",
                wrapper[0],
                "laf-local",
                wrapper[1],
                *as_user,
                *command,
                cwd=task.params.get("cwd") or folder,
                env=_environment(task, folder, self._as is not None),
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
                _kill(attempt)
                with contextlib.suppress(Exception):
                    await asyncio.shield(process.wait())
        return _result(task, attempt)

    async def recover(self, ctx: Context) -> list[Recovered]:
        """Attempts left by a runner that died on this host: follow each to its end.
        (The runner has already taken those whose result was waiting for the API.)"""
        found = []
        for attempt in ctx.store.orphans():
            if attempt.has(REPORT):  # a result to deliver: the runner's, not ours
                ctx.store.release(attempt.key)
                continue
            try:
                task = ClaimedTask.model_validate_json(attempt.read("task.json") or b"")
            except ValueError:
                ctx.store.remove(attempt.key)  # never got going: nothing to follow
                continue
            if task.executor != "local" or f"{task.task_id}-{task.attempt}" != attempt.key:
                log.warning("attempt folder %s does not hold a local attempt", attempt.folder)
                ctx.store.release(attempt.key)
                continue
            found.append(Recovered(task, _follower(attempt)))
        return found
