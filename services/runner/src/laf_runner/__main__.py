"""`laf-runner`: run tasks for the executors in LAF_RUNNER_EXECUTORS."""

from __future__ import annotations

import asyncio

from laf_core import service
from laf_core.logs import setup_logging
from laf_core.metrics import Metrics
from laf_core.settings import CommonSettings, RunnerSettings
from laf_runner.runner import Runner


def main() -> None:
    common = CommonSettings()
    setup_logging("runner", common.log_level, common.log_json)
    metrics = Metrics("laf_runner")
    runner = Runner(common, RunnerSettings(), metrics)

    async def run(stop: asyncio.Event) -> None:
        await service.until_stopped(
            stop,
            runner.run(stop),
            service.serve_probes(common.health_port, lambda: runner.ready, metrics),
        )

    service.run("runner", run)


if __name__ == "__main__":
    main()
