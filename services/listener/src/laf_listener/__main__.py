"""`laf-listener`: the outbox relay, one of N replicas."""

from __future__ import annotations

import asyncio

from laf_core import service
from laf_core.logs import setup_logging
from laf_core.metrics import Metrics
from laf_core.settings import CommonSettings, ListenerSettings
from laf_listener.relay import Relay


def main() -> None:
    common = CommonSettings()
    setup_logging("listener", common.log_level, common.log_json)
    metrics = Metrics("laf_listener")
    relay = Relay(common, ListenerSettings(), metrics)

    async def run(stop: asyncio.Event) -> None:
        await service.until_stopped(
            stop,
            relay.run(stop),
            service.serve_probes(common.health_port, lambda: relay.ready, metrics),
        )

    service.run("listener", run)


if __name__ == "__main__":
    main()
