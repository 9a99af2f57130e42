"""`noop`: succeeds at once; outputs are params.outputs or {}. For tests and benchmarks."""

from __future__ import annotations

from typing import Any

from laf_core.contracts.reports import ClaimedTask
from laf_runner.executors import Context


async def run(task: ClaimedTask, ctx: Context) -> dict[str, Any]:
    return dict(task.params.get("outputs") or {})
