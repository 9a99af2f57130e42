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
    prefetch: int = 64


def _default_runner_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class RunnerSettings(BaseSettings):
    """A runner (prefix ``LAF_RUNNER_``)."""

    model_config = SettingsConfigDict(env_prefix="LAF_RUNNER_", extra="ignore")

    id: str = Field(default_factory=_default_runner_id)
    api_url: str = "http://127.0.0.1:8000"
    executors: str = "noop,python,local"
    concurrency: int = 16
    heartbeat_s: float = 10.0
    workdir: str = ""  # where `local` tasks get their scratch folders; empty: the system temp

    @property
    def executor_names(self) -> list[str]:
        return [name.strip() for name in self.executors.split(",") if name.strip()]
