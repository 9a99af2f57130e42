"""`laf-simlab`: serve the simulated lab."""

from __future__ import annotations

import os

import uvicorn

from laf_core.logs import setup_logging
from laf_simlab.app import create_app
from laf_simlab.settings import SimlabSettings


def main() -> None:
    settings = SimlabSettings()
    # The lab holds no secret, so it reads only the logging part of LAF's common settings.
    log_json = os.environ.get("LAF_LOG_JSON")
    setup_logging(
        "simlab",
        os.environ.get("LAF_LOG_LEVEL", "INFO"),
        None if log_json is None else log_json.lower() in {"1", "true", "yes"},
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
