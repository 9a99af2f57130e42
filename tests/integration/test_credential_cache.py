"""The API remembers a token's owner for a few seconds (laf_api.credential_cache), and
still refuses a revoked token, a disabled user or lost roles at once: changed through
this API, through another process (the trigger's laf_credentials), or while the
listening connection is down (then nothing is remembered)."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from laf_api.app import create_app
from laf_api.credential_cache import CredentialCache
from laf_api.settings import ApiSettings
from laf_api.store.auth import TokenOwner
from laf_core.credentials import digest
from laf_core.testing.infra import TEST_ADMIN_TOKEN, policy_for_tests


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def cached(db, common_settings):
    """The API in-process with its credential cache listening, as the tests' admin."""
    app = create_app(common_settings, ApiSettings(allowed_hosts=["laf"]), policy=policy_for_tests())
    app.state.pool = db
    cache: CredentialCache = app.state.credentials
    stop = asyncio.Event()
    listening = asyncio.create_task(cache.run(common_settings.database_url, stop))
    try:
        await until(lambda: cache.listening)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://laf",
            headers=bearer(TEST_ADMIN_TOKEN),
        ) as client:
            yield client, cache
    finally:
        stop.set()
        await listening


async def until(condition, timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


async def new_token(client, roles: list[str]) -> dict:
    made = await client.post("/api/tokens", json={"name": "cached", "roles": roles})
    assert made.status_code == 201, made.text
    return made.json()


async def test_a_token_is_looked_up_once_and_revoking_it_here_refuses_it_at_once(cached):
    client, cache = cached
    token = await new_token(client, ["viewer"])
    assert cache.get(digest(token["token"])) is None
    assert (await client.get("/api/auth/me", headers=bearer(token["token"]))).status_code == 200
    remembered = cache.get(digest(token["token"]))
    assert remembered is not None and remembered.roles == {"viewer"}
    revoked = await client.delete(f"/api/tokens/{token['id']}")
    assert revoked.status_code == 200
    assert (await client.get("/api/auth/me", headers=bearer(token["token"]))).status_code == 401


async def test_a_change_made_by_another_process_is_heard(cached, db):
    client, cache = cached
    token = await new_token(client, ["viewer"])
    assert (await client.get("/api/auth/me", headers=bearer(token["token"]))).status_code == 200
    assert cache.get(digest(token["token"])) is not None
    # as another API replica or `laf-admin` would: straight into the database
    await db.execute("UPDATE tokens SET revoked_at = now() WHERE id = $1", uuid.UUID(token["id"]))
    await until(lambda: cache.get(digest(token["token"])) is None)
    assert (await client.get("/api/auth/me", headers=bearer(token["token"]))).status_code == 401


async def test_a_user_disabled_or_demoted_elsewhere_loses_their_cached_tokens(cached, db):
    client, cache = cached
    made = await client.post(
        "/api/users",
        json={"name": "gina", "password": "correct horse battery", "roles": ["operator"]},
    )
    assert made.status_code == 201, made.text
    login = await client.post(
        "/api/auth/login",
        json={"username": "gina", "password": "correct horse battery"},
        headers={"Authorization": ""},
    )
    session = login.json()["token"]
    assert (await client.get("/api/auth/me", headers=bearer(session))).json()["roles"] == [
        "operator"
    ]
    await db.execute("UPDATE users SET roles = '{viewer}' WHERE name = 'gina'")
    await until(lambda: cache.get(digest(session)) is None)
    assert (await client.get("/api/auth/me", headers=bearer(session))).json()["roles"] == []
    await db.execute("UPDATE users SET disabled = true WHERE name = 'gina'")
    await until(lambda: cache.get(digest(session)) is None)
    assert (await client.get("/api/auth/me", headers=bearer(session))).status_code == 401


async def test_nothing_is_remembered_while_the_listening_connection_is_down(cached, db):
    client, cache = cached
    token = await new_token(client, ["viewer"])
    await db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE query LIKE 'LISTEN%laf_credentials%' AND datname = current_database()"
    )
    await until(lambda: not cache.listening)
    assert (await client.get("/api/auth/me", headers=bearer(token["token"]))).status_code == 200
    assert cache.get(digest(token["token"])) is None  # looked up, not kept
    await until(lambda: cache.listening)  # it listens again by itself
    assert (await client.get("/api/auth/me", headers=bearer(token["token"]))).status_code == 200
    assert cache.get(digest(token["token"])) is not None


def test_an_answer_looked_up_across_a_change_is_not_kept():
    cache = CredentialCache(ttl_s=30)
    cache.listening = True
    owner = TokenOwner("x", frozenset({"viewer"}), str(uuid.uuid4()))
    before = cache.generation
    cache.forget()  # a change heard while the lookup ran
    cache.put("d", owner, None, before)
    assert cache.get("d") is None
    cache.put("d", owner, None, cache.generation)
    assert cache.get("d") == owner


def test_an_entry_lasts_no_longer_than_its_token():
    cache = CredentialCache(ttl_s=30)
    cache.listening = True
    owner = TokenOwner("x", frozenset({"viewer"}), str(uuid.uuid4()))
    cache.put("d", owner, datetime.now(UTC) - timedelta(seconds=1), cache.generation)
    assert cache.get("d") is None
    cache.put("e", owner, datetime.now(UTC) + timedelta(seconds=60), cache.generation)
    assert cache.get("e") == owner
