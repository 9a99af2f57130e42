"""Settings shared by every LAF service, read from the environment.

One class per section, each with its own prefix, so a service composes only
what it needs and tests build them with keyword arguments.
"""

from __future__ import annotations

import os
import socket

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_WEBHOOK_SECRET = "laf-dev-secret-change-me"


class CommonSettings(BaseSettings):
    """Connections and secrets every service needs (prefix ``LAF_``)."""

    model_config = SettingsConfigDict(env_prefix="LAF_", extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:5432/laf"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    webhook_secret: str = DEV_WEBHOOK_SECRET
    dev_mode: bool = False
    log_level: str = "INFO"
    log_json: bool | None = None  # None: JSON when stderr is not a terminal
    health_port: int = 0  # 0: no probe server (the API serves its own probes)

    @model_validator(mode="after")
    def _no_default_secret_in_production(self) -> CommonSettings:
        if self.webhook_secret == DEV_WEBHOOK_SECRET and not self.dev_mode:
            raise ValueError(
                "LAF_WEBHOOK_SECRET is the built-in development secret; set a real one "
                "or set LAF_DEV_MODE=1 for a local, unsecured run"
            )
        return self


class ApiSettings(BaseSettings):
    """The HTTP API (prefix ``LAF_API_``)."""

    model_config = SettingsConfigDict(env_prefix="LAF_API_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    pool_size: int = 10
    frontend_dir: str = ""  # a built frontend to serve at /; empty: the bundled placeholder
    signature_window_s: int = 300
    # A workflow naming an executor that no runner heard from in this window serves is refused
    # (422), unless no runner at all was heard from (an outage: the tasks wait in their queues).
    runner_liveness_s: float = 300.0


class ListenerSettings(BaseSettings):
    """The outbox relay (prefix ``LAF_LISTENER_``)."""

    model_config = SettingsConfigDict(env_prefix="LAF_LISTENER_", extra="ignore")

    batch_size: int = 500
    poll_s: float = 1.0  # safety-net poll; notifications wake it at once


class CoordinatorSettings(BaseSettings):
    """The coordinator (prefix ``LAF_COORDINATOR_``)."""

    model_config = SettingsConfigDict(env_prefix="LAF_COORDINATOR_", extra="ignore")

    sweep_s: float = 2.0  # how often the reconciler looks for work the events missed
    start_grace_s: float = 5.0  # a pending workflow older than this is started by the sweep
    timeout_grace_s: float = (
        30.0  # past timeout_s + this with no result, the sweep fails the attempt
    )
    prefetch: int = 64
    # A running attempt with no heartbeat for this long has lost its runner (runners beat every
    # LAF_RUNNER_HEARTBEAT_S): it fails and its retry policy decides.
    heartbeat_timeout_s: float = 45.0
    # A task queued this long while its executor's queue is empty is announced again.
    redispatch_after_s: float = 60.0


def _default_runner_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class RunnerSettings(BaseSettings):
    """A runner (prefix ``LAF_RUNNER_``)."""

    model_config = SettingsConfigDict(env_prefix="LAF_RUNNER_", extra="ignore")

    id: str = Field(default_factory=_default_runner_id)
    api_url: str = "http://127.0.0.1:8000"
    executors: str = "noop,python,local,http"
    concurrency: int = 16
    heartbeat_s: float = 10.0
    workdir: str = ""  # where `local` tasks get their scratch folders; empty: the system temp
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

    @property
    def executor_names(self) -> list[str]:
        return [name.strip() for name in self.executors.split(",") if name.strip()]


class SimlabSettings(BaseSettings):
    """The simulated lab, `laf-simlab` (prefix ``LAF_SIMLAB_``)."""

    model_config = SettingsConfigDict(env_prefix="LAF_SIMLAB_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8100
    public_url: str = ""  # how LAF reaches it, for the endpoints it suggests; empty: host:port
    seed: int = 42  # the same seed, instrument and params give the same data
    time_scale: float = 0.01  # simulated run time x this = wall time (a 10 min HPLC run: 6 s)
