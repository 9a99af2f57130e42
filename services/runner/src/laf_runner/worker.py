"""The process a `python` task runs in (``python -m laf_runner.worker``), never the runner.

The runner keeps a few of these warm (executors/python.py). Each reads one
request at a time from its stdin and writes one answer to its stdout, both
framed as a 4-byte big-endian length and a JSON document:

- request: ``{"function": "module:name", "inputs": {…}, "params": {…}}``
- answer: ``{"ok": true, "outputs": {…}}`` or ``{"ok": false, "error": "…",
  "traceback": "…", "retire": bool}``

The task's own code never sees those two pipes: fd 0 becomes /dev/null and fd 1
the worker's stderr (the runner's log), so a ``print()`` or an ``input()`` cannot
corrupt the protocol. Everything the function (or its module's import) raises,
``SystemExit`` and ``KeyboardInterrupt`` included, becomes an answer; after one of
those the worker asks to be retired (``retire``), since its interpreter may be in
any state. A crash in native code ends the process: the runner sees the pipe close
and the signal, and starts another worker. Only the standard library is imported
here, so a worker starts in a few tens of milliseconds.
"""

from __future__ import annotations

import asyncio
import faulthandler
import importlib
import inspect
import json
import os
import signal
import struct
import sys
import traceback
from typing import IO, Any

HEADER = struct.Struct(">I")


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _resolve(reference: str) -> Any:
    module_name, _, attribute = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise _Refused(f"cannot import module '{module_name}': {exc}") from None
    function = getattr(module, attribute, None)
    if not callable(function):
        raise _Refused(f"'{reference}' is not a function")
    return function


class _Refused(Exception):
    """The reference cannot be called: a plain error, without a traceback."""


def _call(request: dict[str, Any]) -> dict[str, Any]:
    reference = str(request.get("function", ""))
    function = _resolve(reference)
    kwargs = {"inputs": request.get("inputs") or {}, "params": request.get("params") or {}}
    if inspect.iscoroutinefunction(function):
        result = asyncio.run(function(**kwargs))
    else:
        result = function(**kwargs)
        if inspect.isawaitable(result):

            async def wait() -> Any:
                return await result

            result = asyncio.run(wait())
    if result is None:
        return {"ok": True, "outputs": {}}
    if not isinstance(result, dict):
        raise _Refused(f"{reference} returned {type(result).__name__}, not a JSON object")
    return {"ok": True, "outputs": result}


def _answer(request: dict[str, Any]) -> bytes:
    retire = False
    try:
        answer = _call(request)
    except _Refused as exc:
        answer = {"ok": False, "error": str(exc)}
    except BaseException as exc:  # SystemExit and KeyboardInterrupt too: the task's, not ours
        retire = not isinstance(exc, Exception)
        note = " (raised by the task's code; its worker is replaced)" if retire else ""
        answer = {
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}{note}",
            "traceback": "".join(traceback.format_exception(exc)),
            "retire": retire,
        }
    try:
        return json.dumps(answer).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        name = str(request.get("function", ""))
        return json.dumps(
            {"ok": False, "error": f"{name} returned something not JSON: {exc}", "retire": retire}
        ).encode()


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    while True:
        header = _read_exactly(requests, HEADER.size)
        if header is None:
            return  # the runner closed our stdin: it is done with us
        body = _read_exactly(requests, HEADER.unpack(header)[0])
        if body is None:
            return
        answer = _answer(json.loads(body))
        answers.write(HEADER.pack(len(answer)) + answer)
        answers.flush()


def _die_with_the_runner() -> None:
    """A worker busy in a loop must not outlive a runner killed with -9 (an idle one
    sees its stdin close and ends by itself): Linux's parent-death signal."""
    if sys.platform != "linux":
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the runner died before we asked
        os._exit(1)


def main() -> None:
    _die_with_the_runner()
    requests = os.fdopen(os.dup(0), "rb", buffering=0)
    answers = os.fdopen(os.dup(1), "wb", buffering=0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    sys.stdin = open(os.devnull)  # noqa: SIM115 - the task's stdin for the worker's life
    sys.stdout = sys.stderr
    faulthandler.enable()  # a crash in native code prints the Python stack to the log
    serve(requests, answers)


if __name__ == "__main__":
    main()
