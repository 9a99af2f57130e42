"""Settings every LAF service needs, read from the environment (prefix ``LAF_``).

Each service owns its own section (`laf_api.settings`, `laf_runner.settings`, …),
one class with its own prefix, so tests build them with keyword arguments.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

MIN_SECRET_BYTES = 32


class CommonSettings(BaseSettings):
    """Connections every service needs, and the signing secret of the two that sign
    (the API and runners; prefix ``LAF_``)."""

    model_config = SettingsConfigDict(env_prefix="LAF_", extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:5432/laf"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    # The URLs carry passwords: a service whose tasks share its host (a runner) reads them
    # from files (LAF_AMQP_URL_FILE, …), so that its environment holds no secret.
    database_url_file: str = ""
    amqp_url_file: str = ""
    # laf-migrate runs as the tables' owner and grants this role what the services need;
    # it may never change or delete the audit record (README "Part 11").
    database_service_role: str = "laf_service"
    # The webhook signing secret: only the API and runners are given it, better as a file
    # only they can read (LAF_WEBHOOK_SECRET_FILE) than in their environment.
    webhook_secret: str = ""
    webhook_secret_file: str = ""
    # off: no authentication at all, for development only; every service warns at start.
    auth: Literal["on", "off"] = "on"
    log_level: str = "INFO"
    log_json: bool | None = None  # None: JSON when stderr is not a terminal
    health_port: int = 0  # 0: no probe server (the API serves its own probes)

    @model_validator(mode="after")
    def _urls_from_files(self) -> CommonSettings:
        if self.database_url_file:
            self.database_url = Path(self.database_url_file).read_text().strip()
        if self.amqp_url_file:
            self.amqp_url = Path(self.amqp_url_file).read_text().strip()
        return self

    def signing_secret(self) -> str:
        """The webhook secret (from its file when one is named); refuses one shorter than
        32 bytes, so a service that signs or verifies cannot start with a guessable one."""
        secret = self.webhook_secret
        if self.webhook_secret_file:
            secret = Path(self.webhook_secret_file).read_text().strip()
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"the webhook secret must be at least {MIN_SECRET_BYTES} random bytes "
                "(set LAF_WEBHOOK_SECRET_FILE, or LAF_WEBHOOK_SECRET; for example "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        return secret

    def warn_if_open(self, service: str) -> None:
        if self.auth == "off":
            log.warning(
                "LAF_AUTH=off: %s accepts anyone, without credentials; for development only",
                service,
            )
