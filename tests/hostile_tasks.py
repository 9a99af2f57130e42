"""`python` task functions that try to take their runner down (imported in the worker
process: the runner hands its import path to its workers, so `tests.hostile_tasks:…`
resolves there)."""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Any


def exit_now(inputs: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    sys.exit(3)


def interrupt(inputs: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    raise KeyboardInterrupt


def segfault(inputs: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    ctypes.string_at(0)
    return {}


def hard_exit(inputs: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    os._exit(7)


def spin(inputs: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A sync function that never ends (and ignores signals it can catch)."""
    while True:
        pass


def pid(inputs: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    return {"pid": os.getpid()}


def chatty(inputs: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Writes to stdout and reads stdin, which carry the worker's protocol: they must not."""
    sys.stdout.write("noise on stdout " * 100 + "\n")
    sys.stdout.flush()
    os.write(1, b"\x00\x00\x00\x05junk")
    return {"read": sys.stdin.read(10)}


def unstorable(inputs: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    kind = params["kind"]
    if kind == "nan":
        return {"area": [1.0, float("nan")]}
    if kind == "infinity":
        return {"ratio": float("inf")}
    if kind == "nul":
        return {"text": "a\x00b", "key\x00": 1}
    if kind == "deep":
        value: Any = 1
        for _ in range(300):
            value = [value]
        return {"deep": value}
    if kind == "long_error":
        raise RuntimeError("E" * 50_000)
    raise ValueError(kind)
