"""Logging in, tokens, users, instruments, and what `laf` says when it cannot do a thing:
the API down, a refused token, a role that does not allow it."""

from __future__ import annotations

import json
import stat
import uuid

from devstack import free_port
from tests.cli.conftest import Laf, token_for

PASSWORD = "ana-password-for-cli-tests"


async def test_login_saves_a_private_session_that_whoami_and_logout_use(laf, stack, tmp_path):
    made = await laf(
        "user", "create", "ana", "--role", "operator", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert made.code == 0, made.err
    ana = Laf(stack.api_url, None, tmp_path / "ana")

    logged_in = await ana("login", "--username", "ana", "--password-stdin", stdin=PASSWORD + "\n")
    assert logged_in.code == 0, logged_in.err
    assert "logged in" in logged_in.out and "ana" in logged_in.out
    config = tmp_path / "ana" / "laf" / "config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    saved = json.loads(config.read_text())
    assert saved["url"] == stack.api_url and saved["token"].startswith("laf_")

    me = await ana("whoami", "-o", "json")
    assert me.code == 0, me.err
    assert (me.json()["name"], me.json()["roles"]) == ("ana", ["operator"])
    assert me.json()["token_from"] == str(config)

    # Precedence: LAF_TOKEN goes before the saved login, --token before LAF_TOKEN.
    viewer = await token_for_stack(stack, "vera", "viewer")
    as_env = await ana("whoami", "-o", "json", LAF_TOKEN=stack.admin_token)
    assert as_env.json()["name"] == "tester" and as_env.json()["token_from"] == "LAF_TOKEN"
    as_flag = await ana("--token", viewer, "whoami", "-o", "json", LAF_TOKEN=stack.admin_token)
    assert as_flag.json()["name"] == "vera" and as_flag.json()["token_from"] == "--token"
    # The saved token belongs to its URL: another one (the same API by another name) gets none.
    elsewhere = await ana("--url", stack.api_url.replace("127.0.0.1", "localhost"), "whoami")
    assert elsewhere.code == 3 and "not logged in" in elsewhere.err

    logged_out = await ana("logout")
    assert logged_out.code == 0 and "logged out" in logged_out.out
    assert "token" not in json.loads(config.read_text())
    stale = await ana("--token", saved["token"], "whoami")
    assert stale.code == 3
    assert "the token was refused" in stale.err and "laf login" in stale.err
    assert (await ana("logout")).out.strip() == "not logged in"

    wrong = await ana("login", "-u", "ana", "--password-stdin", stdin="not-the-password\n")
    assert wrong.code == 3 and wrong.err.startswith("laf: login refused: wrong user name")


async def token_for_stack(stack, user: str, role: str) -> str:
    import httpx

    async with httpx.AsyncClient(base_url=stack.api_url, headers=stack.auth_headers) as api:
        return await token_for(api, user, role)


async def test_tokens_are_made_listed_and_revoked(laf, stack):
    made = await laf(
        "token", "create", "ci job", "--role", "viewer", "--expires-in", "3600", "-o", "json"
    )
    assert made.code == 0, made.err
    token = made.json()
    assert token["roles"] == ["viewer"] and token["token"].startswith("laf_")
    secret_only = await laf("token", "create", "notebook", "-q")
    assert secret_only.out.strip().startswith("laf_") and len(secret_only.out.split()) == 1

    listed = await laf("token", "list", "-o", "json")
    assert token["id"] in [t["id"] for t in listed.json()]
    assert all("token" not in t for t in listed.json())  # secrets are never shown again
    table = await laf("token", "list")
    assert "ci job" in table.out and "notebook" in table.out

    ci = Laf(stack.api_url, token["token"], laf.config_home)
    assert (await ci("whoami", "-o", "json")).json()["roles"] == ["viewer"]
    revoked = await laf("token", "revoke", token["id"])
    assert revoked.code == 0 and "revoked token ci job" in revoked.out
    refused = await ci("list")
    assert refused.code == 3 and "the token was refused" in refused.err
    unknown = await laf("token", "revoke", str(uuid.uuid4()))
    assert unknown.code == 3 and unknown.err.startswith("laf: not found:")


async def test_users_are_made_listed_disabled_and_enabled(laf, stack, tmp_path):
    password = "bob-password-for-cli-tests"
    made = await laf(
        "user", "create", "bob", "--role", "viewer", "--password-stdin", stdin=password + "\n"
    )
    assert made.code == 0 and "created user bob" in made.out
    service = await laf(
        "user", "create", "svc-1", "--role", "runner", "--service-account", "-o", "json"
    )
    assert service.json()["roles"] == ["runner"]
    assert (await laf("user", "create", "nobody-roles")).code == 2
    twice = await laf("user", "create", "svc-1", "--role", "runner", "--service-account")
    assert twice.code == 3 and twice.err.startswith("laf: refused:")

    users = {u["name"]: u for u in (await laf("user", "list", "-o", "json")).json()}
    assert users["bob"]["roles"] == ["viewer"] and not users["bob"]["disabled"]
    assert "svc-1" in (await laf("user", "list")).out

    bob = Laf(stack.api_url, None, tmp_path / "bob")
    disabled = await laf("user", "disable", "bob")
    assert disabled.code == 0 and "disabled" in disabled.out
    refused = await bob("login", "-u", "bob", "--password-stdin", stdin=password + "\n")
    assert refused.code == 3 and "login refused" in refused.err
    assert (await laf("user", "enable", "bob", "-o", "json")).json()["disabled"] is False
    again = await bob("login", "-u", "bob", "--password-stdin", stdin=password + "\n")
    assert again.code == 0, again.err


async def test_instruments_board_status_and_history(laf, api, stack):
    registered = await api.post(
        "/api/instruments", json={"id": "balance-01", "name": "Balance", "kind": "balance"}
    )
    assert registered.status_code == 201, registered.text
    board = await laf("instruments")
    assert board.code == 0 and "balance-01" in board.out and "online" in board.out
    assert [i["id"] for i in (await laf("instruments", "-o", "json")).json()] == ["balance-01"]

    offline = await laf(
        "instruments",
        "set",
        "balance-01",
        "--status",
        "offline",
        "--reason",
        "calibration",
        "-o",
        "json",
    )
    assert offline.code == 0, offline.err
    assert offline.json()["status"] == "offline"
    assert (await laf("instruments", "set", "balance-01")).code == 2  # nothing to change
    history = (await laf("instruments", "history", "balance-01", "-o", "json")).json()
    assert (history[-1]["to_status"], history[-1]["reason"]) == ("offline", "calibration")
    assert "calibration" in (await laf("instruments", "history", "balance-01")).out

    viewer = Laf(stack.api_url, await token_for(api, "vic", "viewer"), laf.config_home)
    assert "balance-01" in (await viewer("instruments")).out  # a viewer may look
    refused = await viewer("instruments", "set", "balance-01", "--status", "online")
    assert refused.code == 3
    assert refused.err.strip() == "laf: not allowed: this needs the admin role (yours: viewer)"


async def test_a_viewer_is_told_which_role_an_action_needs(laf, api, tmp_path):
    viewer = Laf(laf.url, await token_for(api, "val", "viewer"), laf.config_home)
    document = tmp_path / "one.json"
    document.write_text('{"name": "x", "tasks": [{"name": "a", "executor": "noop"}]}')
    submitted = await viewer("submit", str(document))
    assert submitted.code == 3
    assert submitted.err.strip() == (
        "laf: not allowed: this needs the operator role (yours: viewer)"
    )
    assert (await viewer("user", "list")).err.startswith("laf: not allowed: this needs the admin")
    assert (await viewer("list")).code == 0  # reading is allowed


async def test_an_unreachable_api_a_bad_url_and_no_token_are_one_line_each(laf, tmp_path):
    down = Laf(f"http://127.0.0.1:{free_port()}", laf.token, laf.config_home)
    for command in (["list"], ["watch", str(uuid.uuid4())], ["whoami"]):
        result = await down(*command)
        assert result.code == 2, (command, result.err)
        assert result.err.startswith(f"laf: cannot reach the LAF API at {down.url}")
        assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err

    bad_url = await laf("--url", "ftp://example.invalid", "list")
    assert bad_url.code == 2 and "must start with http://" in bad_url.err

    anonymous = Laf(laf.url, None, tmp_path / "nobody")
    result = await anonymous("list")
    assert result.code == 3
    assert (
        result.err.strip()
        == "laf: not logged in: run `laf login`, or pass --token or set LAF_TOKEN"
    )
    bogus = await laf("--token", "laf_not-a-real-token", "show", str(uuid.uuid4()))
    assert bogus.code == 3 and "run `laf login`" in bogus.err


async def test_no_color_and_shell_completion(laf):
    coloured = await laf("instruments", "history", "nope", TTY_COMPATIBLE="1", NO_COLOR="")
    assert "\x1b[" in coloured.err  # a terminal gets colour …
    plain = await laf(
        "--no-color", "instruments", "history", "nope", TTY_COMPATIBLE="1", NO_COLOR=""
    )
    assert plain.code == 3 and "\x1b[" not in plain.err  # … unless told not to
    completion = await laf("--show-completion", "bash")
    assert completion.code == 0 and "_LAF_COMPLETE" in completion.out
