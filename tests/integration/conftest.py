import httpx
import pytest

from laf_api.app import create_app
from laf_core.settings import ApiSettings


def pytest_collection_modifyitems(items):
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
async def client(db, common_settings):
    app = create_app(common_settings, ApiSettings())
    app.state.pool = db  # the lifespan is not run in-process; hand it the test's pool
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://laf") as client:
        yield client
