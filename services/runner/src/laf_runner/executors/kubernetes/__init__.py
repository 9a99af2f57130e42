"""`kubernetes`: each attempt a batch/v1 Job (executor), built by `spec`, judged by `status`."""

from laf_runner.executors.kubernetes.executor import (
    KubernetesExecutor,
    configuration_problem,
    load,
)

__all__ = ["KubernetesExecutor", "configuration_problem", "load"]
