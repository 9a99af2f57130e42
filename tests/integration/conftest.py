import httpx
import pytest

from laf_api.app import create_app
from laf_api.settings import ApiSettings
from laf_core.testing.infra import TEST_ADMIN_TOKEN, policy_for_tests


def pytest_collection_modifyitems(items):
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
async def client(db, common_settings):
    """The API in-process, as the test database's admin (`tester`)."""
    app = create_app(common_settings, ApiSettings(allowed_hosts=["laf"]), policy=policy_for_tests())
    app.state.pool = db  # the lifespan is not run in-process; hand it the test's pool
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://laf", headers=headers
    ) as client:
        yield client
