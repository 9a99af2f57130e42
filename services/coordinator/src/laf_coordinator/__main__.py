"""`laf-coordinator`: starts workflows, fires retries, sweeps for missed work."""

from __future__ import annotations

from laf_coordinator.coordinator import Coordinator
from laf_coordinator.settings import CoordinatorSettings
from laf_core import service


def main() -> None:
    service.serve(
        "coordinator",
        lambda common, metrics: Coordinator(common, CoordinatorSettings(), metrics),
    )


if __name__ == "__main__":
    main()
