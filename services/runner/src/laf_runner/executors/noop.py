"""`noop`: succeeds at once; outputs are params.outputs or {}. For tests and benchmarks."""

from __future__ import annotations

from laf_core.contracts.reports import ClaimedTask
from laf_runner.executors import BaseExecutor, Context, Outputs


class NoopExecutor(BaseExecutor):
    async def run(self, task: ClaimedTask, ctx: Context) -> Outputs:
        return dict(task.params.get("outputs") or {})
