"""Small functions for the `python` executor: demos, tests and benchmarks."""

from __future__ import annotations

import asyncio
from typing import Any


def echo(inputs: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Return params.value (default: the params) and the inputs it received."""
    return {"value": params.get("value", params), "inputs": inputs}


def add(inputs: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Sum params.key (default "value") over every input, plus params.start."""
    key = params.get("key", "value")
    total = params.get("start", 0) + sum(out.get(key, 0) for out in inputs.values())
    return {"value": total}


async def sleep(inputs: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Wait params.seconds without blocking the runner."""
    await asyncio.sleep(float(params.get("seconds", 1)))
    return {"slept": params.get("seconds", 1)}


def fail(inputs: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Raise, for tests of failure handling."""
    raise RuntimeError(params.get("message", "failed on purpose"))
