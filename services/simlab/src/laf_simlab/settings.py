"""Settings of the simulated lab, `laf-simlab` (prefix ``LAF_SIMLAB_``)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class SimlabSettings(BaseSettings):
    """The simulated lab, `laf-simlab` (prefix ``LAF_SIMLAB_``)."""

    model_config = SettingsConfigDict(env_prefix="LAF_SIMLAB_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8100
    public_url: str = ""  # how LAF reaches it, for the endpoints it suggests; empty: host:port
    seed: int = 42  # the same seed, instrument and params give the same data
    time_scale: float = 0.01  # simulated run time x this = wall time (a 10 min HPLC run: 6 s)
