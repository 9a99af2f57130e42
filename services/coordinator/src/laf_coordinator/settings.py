"""Settings of the coordinator, `laf-coordinator` (prefix ``LAF_COORDINATOR_``)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


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
