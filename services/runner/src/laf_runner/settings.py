"""Settings of a runner, `laf-runner` (prefix ``LAF_RUNNER_``)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from laf_runner.attempts import default_parent


def _default_runner_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class RunnerSettings(BaseSettings):
    """A runner (prefix ``LAF_RUNNER_``)."""

    model_config = SettingsConfigDict(env_prefix="LAF_RUNNER_", extra="ignore")

    id: str = Field(default_factory=_default_runner_id)
    api_url: str = "http://127.0.0.1:8000"
    # The runner's API token (role `runner`: claim, heartbeat, report), better as a file
    # only the runner can read (LAF_RUNNER_TOKEN_FILE) than in its environment.
    token: str = ""
    token_file: str = ""
    # The unprivileged user `local` tasks run as (the runner must be root to switch);
    # empty: the runner's own user, which can read the runner's secret files.
    task_user: str = ""
    executors: str = "noop,python,local,http"
    # The runner pool: the replicas of one runner Deployment. Their Kubernetes Jobs carry
    # it, and a runner of the pool adopts the Jobs of one that is gone (checked every
    # adopt_s). Empty: this runner alone (only it, restarted with the same id, re-attaches).
    pool: str = ""
    adopt_s: float = Field(10.0, gt=0)
    concurrency: int = 16
    # An output larger than this (as JSON) is stored once by its hash (POST /api/blobs)
    # and referenced from the report; 0 keeps every output inline.
    inline_output_bytes: int = Field(256 * 1024, ge=0)
    heartbeat_s: float = 10.0
    # Parent of the private attempts folder (laf_runner.attempts): `local` tasks' files and
    # results the API has not accepted yet. Empty: $XDG_STATE_HOME/laf/runner-<api hash>.
    workdir: str = ""
    # The timeout of a task that gives no timeout_s, per executor (seconds).
    noop_timeout_s: float = Field(60.0, gt=0)
    python_timeout_s: float = Field(3600.0, gt=0)
    local_timeout_s: float = Field(3600.0, gt=0)
    http_timeout_s: float = Field(86400.0, gt=0)
    kubernetes_timeout_s: float = Field(86400.0, gt=0)
    # `python`: worker processes kept warm (idle) at most, and tasks a worker runs before
    # it is replaced by a fresh one.
    python_workers: int = Field(4, ge=0)
    python_worker_max_tasks: int = Field(200, ge=1)
    # `http` (instrument services): the poll interval when the instrument suggests none, and
    # how long an instrument may stay unreachable before the task fails.
    http_poll_s: float = 0.5
    http_unreachable_s: float = 30.0
    # `kubernetes` (Jobs): where and with what defaults. Empty kubeconfig: in-cluster when
    # KUBERNETES_SERVICE_HOST is set, else $KUBECONFIG or ~/.kube/config.
    k8s_kubeconfig: str = ""
    k8s_context: str = ""
    k8s_namespace: str = "laf-jobs"
    k8s_service_account: str = ""  # empty: the namespace's default account
    k8s_callback_url: str = ""  # the API as pods reach it; empty: api_url
    k8s_ttl_after_finished_s: int = 3600
    k8s_cpu_request: str = "100m"
    k8s_memory_request: str = "128Mi"
    k8s_cpu_limit: str = "1"
    k8s_memory_limit: str = "512Mi"
    k8s_image_pull_secret: str = ""
    k8s_watch_timeout_s: int = 240  # a watch is re-opened after this (and after any drop)

    def api_token(self) -> str:
        return Path(self.token_file).read_text().strip() if self.token_file else self.token

    def default_timeout_s(self, executor: str) -> float:
        """The timeout of a task of `executor` that gives none."""
        value = getattr(self, f"{executor}_timeout_s", None)
        return float(value) if isinstance(value, int | float) else self.python_timeout_s

    @property
    def attempts_parent(self) -> Path:
        return Path(self.workdir) if self.workdir else default_parent(self.api_url)

    @property
    def executor_names(self) -> list[str]:
        return [name.strip() for name in self.executors.split(",") if name.strip()]
