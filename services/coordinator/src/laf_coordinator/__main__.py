"""`laf-coordinator`: starts workflows, fires retries, sweeps for missed work."""

from __future__ import annotations

import asyncio

from laf_coordinator.coordinator import Coordinator
from laf_core import service
from laf_core.logs import setup_logging
from laf_core.metrics import Metrics
from laf_core.settings import CommonSettings, CoordinatorSettings


def main() -> None:
    common = CommonSettings()
    setup_logging("coordinator", common.log_level, common.log_json)
    metrics = Metrics("laf_coordinator")
    coordinator = Coordinator(common, CoordinatorSettings(), metrics)

    async def run(stop: asyncio.Event) -> None:
        await service.until_stopped(
            stop,
            coordinator.run(stop),
            service.serve_probes(common.health_port, lambda: coordinator.ready, metrics),
        )

    service.run("coordinator", run)


if __name__ == "__main__":
    main()
