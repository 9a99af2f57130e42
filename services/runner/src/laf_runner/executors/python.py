"""`python`: call params.function ("module:function") in the runner process.

Called as function(inputs=..., params=...), where inputs maps each dependency's
name to its outputs. A sync function runs in a worker thread so it cannot
stall the event loop; an async one is awaited. It must return a JSON object.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import traceback
from typing import Any

from laf_core.contracts.reports import ClaimedTask
from laf_runner.executors import Context, TaskFailed


def resolve(reference: str) -> Any:
    module_name, _, attribute = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise TaskFailed(f"cannot import module '{module_name}': {exc}") from None
    function = getattr(module, attribute, None)
    if not callable(function):
        raise TaskFailed(f"'{reference}' is not a function")
    return function


async def run(task: ClaimedTask, ctx: Context) -> dict[str, Any]:
    function = resolve(str(task.params.get("function", "")))
    params = {k: v for k, v in task.params.items() if k != "function"}
    try:
        if inspect.iscoroutinefunction(function):
            result = await function(inputs=task.inputs, params=params)
        else:
            result = await asyncio.to_thread(function, inputs=task.inputs, params=params)
    except Exception as exc:
        raise TaskFailed(
            f"{type(exc).__name__}: {exc}", {"traceback": "".join(traceback.format_exception(exc))}
        ) from None
    if result is None:
        return {}
    if not isinstance(result, dict):
        raise TaskFailed(
            f"{task.params['function']} returned {type(result).__name__}, not a JSON object"
        )
    try:
        json.dumps(result)
    except (TypeError, ValueError) as exc:
        raise TaskFailed(f"{task.params['function']} returned something not JSON: {exc}") from None
    return result
