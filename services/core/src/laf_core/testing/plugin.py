"""pytest plugin (loaded with -p laf_core.testing.plugin): real infrastructure fixtures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from laf_core.db.pool import create_pool
from laf_core.settings import CommonSettings
from laf_core.testing import infra
from laf_core.testing.infra import TEST_SECRET


@pytest.fixture(scope="session")
async def pg_template() -> AsyncIterator[str]:
    name = await infra.create_template()
    yield name
    await infra.drop_database(name)


@pytest.fixture
async def database_name(pg_template: str) -> AsyncIterator[str]:
    """A fresh, migrated database of this test's own."""
    name = await infra.create_database(pg_template)
    yield name
    await infra.drop_database(name)


@pytest.fixture
def database_url(database_name: str) -> str:
    """That database, as the services connect to it (their role)."""
    return infra.database_url(database_name)


@pytest.fixture
def owner_database_url(database_name: str) -> str:
    """That database as its tables' owner: migrations, and tests that tamper."""
    return infra.owner_url(database_name)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """A RabbitMQ vhost for this test session."""
    name, url = infra.create_vhost()
    yield url
    infra.delete_vhost(name)


@pytest.fixture
def common_settings(database_url: str, amqp_url: str) -> CommonSettings:
    return CommonSettings(database_url=database_url, amqp_url=amqp_url, webhook_secret=TEST_SECRET)


@pytest.fixture(autouse=True)
async def _no_leaked_tasks() -> AsyncIterator[None]:
    """Fail a test that leaves asyncio tasks running behind it (STYLE habit 7)."""
    before = asyncio.all_tasks()
    yield
    await asyncio.sleep(0)
    leaked = [
        t
        for t in asyncio.all_tasks() - before
        if not t.done() and "pytest" not in repr(t.get_coro()) and t is not asyncio.current_task()
    ]
    if leaked:
        for task in leaked:
            task.cancel()
        pytest.fail(f"test leaked asyncio tasks: {[t.get_name() for t in leaked]}")
