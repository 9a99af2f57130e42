"""`local`: run params.command (argv) as a subprocess on the runner host.

The process gets LAF_INPUTS (a JSON file mapping each dependency's name to its
outputs), LAF_OUTPUTS (where it may write a JSON object), LAF_WORKFLOW_ID,
LAF_TASK_ID, LAF_TASK_NAME and LAF_ATTEMPT, on top of the runner's
environment without LAF's own settings (no secrets leak into tasks) and
params.env. Exit 0 is success. Outputs carry exit_code and the tails of
stdout and stderr. Cancelling the run kills the whole process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import tempfile
from pathlib import Path
from typing import Any

from laf_core.contracts.reports import ClaimedTask
from laf_runner.executors import Context, TaskFailed

TAIL_BYTES = 4000


async def _tail(stream: asyncio.StreamReader, keep: bytearray) -> None:
    while chunk := await stream.read(65536):
        keep.extend(chunk)
        del keep[:-TAIL_BYTES]


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
    )
    return env


async def run(task: ClaimedTask, ctx: Context) -> dict[str, Any]:
    command = task.params["command"]
    with tempfile.TemporaryDirectory(prefix=f"laf-{task.name}-", dir=ctx.workdir or None) as tmp:
        folder = Path(tmp)
        (folder / "inputs.json").write_text(json.dumps(task.inputs))
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                cwd=task.params.get("cwd") or folder,
                env=_environment(task, folder),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own process group, so a kill reaches children
            )
        except OSError as exc:
            raise TaskFailed(f"cannot start {command[0]!r}: {exc.strerror or exc}") from None
        stdout, stderr = bytearray(), bytearray()
        try:
            assert process.stdout is not None and process.stderr is not None
            await asyncio.gather(_tail(process.stdout, stdout), _tail(process.stderr, stderr))
            exit_code = await process.wait()
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                with contextlib.suppress(Exception):
                    await asyncio.shield(process.wait())
        outputs: dict[str, Any] = _read_outputs(folder / "outputs.json")
        outputs.update(
            exit_code=exit_code,
            stdout_tail=stdout.decode(errors="replace"),
            stderr_tail=stderr.decode(errors="replace"),
        )
    if exit_code != 0:
        last_line = next(
            (line for line in reversed(outputs["stderr_tail"].splitlines()) if line.strip()), ""
        )
        raise TaskFailed(
            f"exit code {exit_code}" + (f": {last_line}" if last_line else ""), outputs
        )
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
