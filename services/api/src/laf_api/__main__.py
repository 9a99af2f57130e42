"""`laf-api`: serve the HTTP API with uvicorn."""

from __future__ import annotations

import uvicorn

from laf_api.app import create_app
from laf_api.settings import ApiSettings
from laf_core.logs import setup_logging
from laf_core.settings import CommonSettings


def main() -> None:
    common = CommonSettings()
    settings = ApiSettings()
    setup_logging("api", common.log_level, common.log_json)
    uvicorn.run(
        create_app(common, settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
