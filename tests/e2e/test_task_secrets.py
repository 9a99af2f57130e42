"""A `local` task cannot reach the runner's secrets: it runs as another, unprivileged
user (LAF_RUNNER_TASK_USER), the runner keeps no secret in its environment (they are
in files only it can read), and the task's own environment holds none."""

import json
import os
import pwd
from pathlib import Path

import pytest

from devstack import running_stack
from laf_core.testing.factories import task, workflow
from laf_core.testing.infra import TEST_RUNNER_TOKEN, TEST_SECRET
from tests.e2e.conftest import ARTIFACTS, submit, wait_for_end

TASK_USER = "nobody"


@pytest.fixture(scope="module")
async def stack(pg_template):
    assert os.geteuid() == 0, "switching to the task user needs root (CI runs as root)"
    async with running_stack(
        pg_template, ARTIFACTS / "test_task_secrets", LAF_RUNNER_TASK_USER=TASK_USER
    ) as stack:
        yield stack


def secrets_of(stack) -> dict[str, str]:
    """Every secret the runner holds, by where it came from."""
    env = stack.service_env["runner"]
    found = {"signing secret": TEST_SECRET, "runner token": TEST_RUNNER_TOKEN}
    amqp = Path(env["LAF_AMQP_URL_FILE"]).read_text().strip()
    found["broker password"] = amqp.split("//", 1)[1].split("@", 1)[0]  # user:password
    return found


async def test_a_local_task_finds_no_secret_of_its_runner(api, stack):
    runner_pid = stack.processes["runner"].popen.pid
    files = [
        stack.service_env["runner"][k]
        for k in ("LAF_WEBHOOK_SECRET_FILE", "LAF_RUNNER_TOKEN_FILE", "LAF_AMQP_URL_FILE")
    ]
    attempts = [
        f"/proc/{runner_pid}/environ",
        f"/proc/{runner_pid}/mem",
        f"/proc/{runner_pid}/cmdline",
        "/proc/1/environ",
        *files,
    ]
    script = (
        'echo "uid=$(id -u)"; env; '
        + "".join(f'echo "== {path}"; cat {path} 2>&1 | head -c 4000; echo; ' for path in attempts)
        + 'echo \'{"looked": true}\' > "$LAF_OUTPUTS"'
    )
    document = workflow(task("snoop", executor="local", params={"command": ["sh", "-c", script]}))
    result = await wait_for_end(api, await submit(api, document), 30)
    snoop = result["tasks"][0]
    assert snoop["status"] == "succeeded", snoop
    seen = json.dumps(snoop["outputs"]) + (snoop["error"] or "")
    # It ran, as the task user, and could still write its outputs.
    assert f"uid={pwd.getpwnam(TASK_USER).pw_uid}" in seen and snoop["outputs"]["looked"] is True
    for path in attempts:
        assert f"== {path}" in seen
    assert "Permission denied" in seen
    for what, secret in secrets_of(stack).items():
        assert secret not in seen, f"the task read the {what}"


async def test_the_runners_environment_holds_no_secret(stack):
    environ = Path(f"/proc/{stack.processes['runner'].popen.pid}/environ").read_bytes().decode()
    for what, secret in secrets_of(stack).items():
        assert secret not in environ, f"the runner's environment holds the {what}"
    assert "LAF_WEBHOOK_SECRET_FILE=" in environ and "LAF_DATABASE_URL" not in environ


async def test_no_service_logs_a_secret(api, stack):
    """After a workflow ran (the snoop above, and this one's login), no secret is in any
    service's log, with its state-change lines and the lines about each task."""
    login = await api.post("/api/auth/login", json={"username": "nobody-at-all", "password": "x"})
    assert login.status_code == 401
    result = await wait_for_end(api, await submit(api, workflow(task("quiet"))), 30)
    assert result["status"] == "succeeded"
    logs = {
        name: (ARTIFACTS / "test_task_secrets" / f"{name}.log").read_text()
        for name in ("api", "listener", "coordinator", "runner")
    }
    assert result["id"] in logs["listener"]  # the logs are the ones of this stack's run
    token = api.headers["Authorization"].removeprefix("Bearer ")
    for what, secret in {**secrets_of(stack), "admin's token": token}.items():
        for name, text in logs.items():
            assert secret not in text, f"{name}.log holds the {what}"
