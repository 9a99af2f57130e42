"""Settings of the outbox relay, `laf-listener` (prefix ``LAF_LISTENER_``)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class ListenerSettings(BaseSettings):
    """The outbox relay (prefix ``LAF_LISTENER_``)."""

    model_config = SettingsConfigDict(env_prefix="LAF_LISTENER_", extra="ignore")

    batch_size: int = 500
    poll_s: float = 1.0  # safety-net poll; notifications wake it at once
