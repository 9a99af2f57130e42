"""`laf-runner`: run tasks for the executors in LAF_RUNNER_EXECUTORS."""

from __future__ import annotations

from laf_core import service
from laf_runner.runner import Runner
from laf_runner.settings import RunnerSettings


def main() -> None:
    service.serve("runner", lambda common, metrics: Runner(common, RunnerSettings(), metrics))


if __name__ == "__main__":
    main()
