"""Logging in, lock-out, tokens (expiry, revocation, roles at most the caller's), users,
the session cookie's CSRF rule, the Host check, the signing secret's minimum, instrument
changes in the history, and single sign-on against an identity provider the test runs."""

import asyncio
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from laf_api.app import create_app
from laf_api.settings import ApiSettings, OidcSettings
from laf_core.settings import CommonSettings
from laf_core.testing.infra import TEST_ADMIN_TOKEN

PASSWORD = "correct horse battery"
NO_TRACES = {"trace_url_template": ""}  # LAF_TRACE_URL_TEMPLATE unset: no trace links


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def make_user(client, name: str, roles: list[str], password: str = PASSWORD) -> None:
    made = await client.post(
        "/api/users", json={"name": name, "password": password, "roles": roles}
    )
    assert made.status_code == 201, made.text


async def login(client, name: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post(
        "/api/auth/login",
        json={"username": name, "password": password},
        headers={"Authorization": ""},
    )


async def test_login_gives_a_session_token_and_me_says_who(client):
    await make_user(client, "alice", ["operator"])
    answer = await login(client, "alice")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["user"] == {"name": "alice", "roles": ["operator"], "open_mode": False, **NO_TRACES}
    assert body["token"].startswith("laf_") and body["expires_at"]
    cookie = answer.headers["set-cookie"]
    assert "laf_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    me = await client.get("/api/auth/me", headers=bearer(body["token"]))
    assert me.json() == {"name": "alice", "roles": ["operator"], "open_mode": False, **NO_TRACES}
    out = await client.post("/api/auth/logout", headers=bearer(body["token"]))
    assert out.status_code == 204
    assert (await client.get("/api/auth/me", headers=bearer(body["token"]))).status_code == 401


async def test_a_wrong_password_or_unknown_user_is_401_without_saying_which(client):
    await make_user(client, "bob", ["viewer"])
    wrong = await login(client, "bob", "not the password")
    unknown = await login(client, "nobody", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_too_many_failed_logins_lock_the_account_for_a_while(client, db):
    await make_user(client, "carol", ["viewer"])
    for _ in range(4):
        assert (await login(client, "carol", "guess")).status_code == 401
    locked = await login(client, "carol", "guess")
    assert locked.status_code == 429 and "locked until" in locked.json()["detail"]
    assert int(locked.headers["Retry-After"]) > 200
    # Locked: even the right password is refused, and says so.
    right = await login(client, "carol")
    assert right.status_code == 429
    # An admin resetting the password lifts the lock.
    reset = await client.patch("/api/users/carol", json={"password": "a brand new password"})
    assert reset.status_code == 200 and reset.json()["locked_until"] is None
    assert (await login(client, "carol", "a brand new password")).status_code == 200


async def test_api_tokens_hold_at_most_the_callers_roles_and_revoke_at_once(client, db):
    await make_user(client, "dave", ["operator"])
    session = (await login(client, "dave")).json()["token"]
    too_much = await client.post(
        "/api/tokens", json={"name": "ci", "roles": ["admin"]}, headers=bearer(session)
    )
    assert too_much.status_code == 403 and "admin" in too_much.json()["detail"]
    made = await client.post(
        "/api/tokens", json={"name": "ci", "roles": ["viewer"]}, headers=bearer(session)
    )
    assert made.status_code == 201, made.text
    token = made.json()
    assert token["roles"] == ["viewer"] and token["owner"] == "dave"
    listed = (await client.get("/api/tokens", headers=bearer(session))).json()
    assert [t["id"] for t in listed] == [token["id"]] and "token" not in listed[0]
    stored = await db.fetchval("SELECT digest FROM tokens WHERE id = $1", uuid.UUID(token["id"]))
    assert token["token"] not in stored  # only a digest is kept
    assert (await client.get("/api/workflows", headers=bearer(token["token"]))).status_code == 200
    submit = await client.post("/api/workflows", json={}, headers=bearer(token["token"]))
    assert submit.status_code == 403  # a viewer token of an operator cannot submit
    others = await client.post(
        "/api/tokens", json={"name": "x", "user": "tester"}, headers=bearer(session)
    )
    assert others.status_code == 403
    revoked = await client.delete(f"/api/tokens/{token['id']}", headers=bearer(session))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert (await client.get("/api/workflows", headers=bearer(token["token"]))).status_code == 401


async def test_an_expired_token_is_refused(client, db):
    made = (await client.post("/api/tokens", json={"name": "short", "expires_in_s": 60})).json()
    assert (await client.get("/api/auth/me", headers=bearer(made["token"]))).status_code == 200
    await db.execute(
        "UPDATE tokens SET expires_at = now() - interval '1 second' WHERE id = $1",
        uuid.UUID(made["id"]),
    )
    expired = await client.get("/api/auth/me", headers=bearer(made["token"]))
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]


async def test_disabling_a_user_stops_their_tokens_and_demoting_narrows_them(client):
    await make_user(client, "erin", ["operator"])
    session = (await login(client, "erin")).json()["token"]
    assert (await client.patch("/api/users/erin", json={"roles": ["viewer"]})).status_code == 200
    me = (await client.get("/api/auth/me", headers=bearer(session))).json()
    assert me["roles"] == []  # the session held operator; erin no longer does
    assert (await client.patch("/api/users/erin", json={"disabled": True})).status_code == 200
    assert (await client.get("/api/auth/me", headers=bearer(session))).status_code == 401
    assert (await login(client, "erin")).status_code == 401
    users = {u["name"]: u for u in (await client.get("/api/users")).json()}
    assert users["erin"]["disabled"] is True and "password_hash" not in users["erin"]


async def test_bad_user_input_is_a_clear_422_and_a_duplicate_409(client):
    short = await client.post(
        "/api/users", json={"name": "fay", "password": "short", "roles": ["viewer"]}
    )
    assert short.status_code == 422
    odd = await client.post(
        "/api/users", json={"name": "Fay Smith", "password": PASSWORD, "roles": ["viewer"]}
    )
    assert odd.status_code == 422
    role = await client.post(
        "/api/users", json={"name": "fay", "password": PASSWORD, "roles": ["root"]}
    )
    assert role.status_code == 422
    await make_user(client, "fay", ["viewer"])
    again = await client.post(
        "/api/users", json={"name": "fay", "password": PASSWORD, "roles": ["viewer"]}
    )
    assert again.status_code == 409
    assert (await client.patch("/api/users/tester", json={"disabled": True})).status_code == 409


async def test_the_session_cookie_changes_nothing_without_the_csrf_header(client):
    await make_user(client, "gus", ["operator"])
    cookie = (await login(client, "gus")).cookies["laf_session"]
    jar = {"Cookie": f"laf_session={cookie}", "Authorization": ""}
    assert (await client.get("/api/auth/me", headers=jar)).json()["name"] == "gus"
    forged = await client.post("/api/workflows", json={}, headers=jar)
    assert forged.status_code == 403 and "X-Requested-With" in forged.json()["detail"]
    same_site = await client.post(
        "/api/workflows", json={}, headers={**jar, "X-Requested-With": "laf"}
    )
    assert same_site.status_code == 422  # past authentication: the empty document is refused


async def test_an_unknown_host_header_is_refused(client):
    rebound = await client.get("/api/workflows", headers={"Host": "evil.example"})
    assert rebound.status_code == 400


async def test_no_cors_grant_unless_configured(client):
    preflight = await client.options(
        "/api/workflows",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_a_short_or_missing_signing_secret_is_refused_at_start():
    for secret in ("", "s3cret", "x" * 31):
        with pytest.raises(ValueError, match="at least 32"):
            create_app(CommonSettings(webhook_secret=secret), ApiSettings())


async def test_instrument_changes_are_in_the_history_with_actor_and_reason(client):
    spec = {"id": "bal-9", "name": "Balance 9", "kind": "balance", "capacity": 1}
    assert (await client.post("/api/instruments", json=spec)).status_code == 201
    change = {"status": "maintenance", "capacity": 2, "reason": "calibration"}
    assert (await client.patch("/api/instruments/bal-9", json=change)).status_code == 200
    history = (await client.get("/api/instruments/bal-9/history")).json()
    assert [(h["actor"], h["reason"], h["to_status"]) for h in history] == [
        ("user:tester", "registered", "online"),
        ("user:tester", "calibration", "maintenance"),
    ]
    assert history[1]["change"] == {"capacity": [1, 2], "status": ["online", "maintenance"]}
    assert (await client.get("/api/instruments/nope/history")).status_code == 404


# ---- single sign-on -------------------------------------------------------------


class Issuer:
    """An identity provider on 127.0.0.1: discovery, JWKS, and tokens it signs."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwks = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]})
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = {
                    "/.well-known/openid-configuration": json.dumps(
                        {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks"}
                    ),
                    "/jwks": jwks,
                }.get(self.path)
                self.send_response(200 if body else 404)
                self.end_headers()
                self.wfile.write((body or "").encode())

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def token(self, key=None, **claims) -> str:
        now = int(time.time())
        payload = {
            "iss": self.url,
            "aud": "laf",
            "iat": now,
            "exp": now + 300,
            "preferred_username": "ivy",
            "roles": ["operator"],
            **claims,
        }
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture
async def sso(db, common_settings):
    issuer = Issuer()
    thread = threading.Thread(target=issuer.server.serve_forever, daemon=True)
    thread.start()
    app = create_app(
        common_settings,
        ApiSettings(allowed_hosts=["laf"]),
        OidcSettings(issuer=issuer.url, audience="laf"),
    )
    app.state.pool = db
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://laf") as client:
        yield issuer, client
    issuer.server.shutdown()
    issuer.server.server_close()
    await asyncio.to_thread(thread.join, 5)


async def test_identity_provider_tokens_are_accepted_with_roles_from_the_claim(sso):
    issuer, client = sso
    me = await client.get("/api/auth/me", headers=bearer(issuer.token()))
    assert me.status_code == 200, me.text
    assert me.json() == {"name": "ivy", "roles": ["operator"], "open_mode": False, **NO_TRACES}
    viewer = issuer.token(roles="viewer")  # a space-separated claim works too
    assert (await client.post("/api/workflows", json={}, headers=bearer(viewer))).status_code == 403
    assert (await client.get("/api/auth/me", headers=bearer(TEST_ADMIN_TOKEN))).status_code == 200


async def test_identity_provider_tokens_that_do_not_verify_are_401(sso):
    issuer, client = sso
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = {
        "signed by another key": issuer.token(key=stranger),
        "expired": issuer.token(exp=int(time.time()) - 600),
        "for another audience": issuer.token(aud="someone-else"),
        "from another issuer": issuer.token(iss="https://evil.example"),
    }
    for why, token in bad.items():
        answer = await client.get("/api/auth/me", headers=bearer(token))
        assert answer.status_code == 401, why
    no_roles = await client.get("/api/auth/me", headers=bearer(issuer.token(roles=["root"])))
    assert no_roles.status_code == 403 and "no LAF role" in no_roles.json()["detail"]
