"""`laf` as a user runs it: the installed console script, in a subprocess, against the
four services as processes on real PostgreSQL and RabbitMQ. Each test has its own
config folder (XDG_CONFIG_HOME), so no login leaks between tests or from the machine."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack import running_stack

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "cli"
LAF = str(Path(sys.executable).parent / "laf")
FINAL = {"succeeded", "failed", "cancelled"}


def pytest_collection_modifyitems(items):
    for item in items:
        if "/cli/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Laf:
    """Runs `laf ARGS` with this test's environment; `token=None` sends none."""

    def __init__(self, url: str, token: str | None, config_home: Path) -> None:
        self.url = url
        self.token = token
        self.config_home = config_home

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LAF_", "XDG_"))}
        env.update(
            XDG_CONFIG_HOME=str(self.config_home),
            LAF_URL=self.url,
            COLUMNS="200",
            NO_COLOR="1",
        )
        if self.token:
            env["LAF_TOKEN"] = self.token
        env.update(extra)
        return {k: v for k, v in env.items() if v != ""}

    async def __call__(
        self, *args: str, stdin: str | None = None, timeout: float = 60.0, **env: str
    ) -> Result:
        done = await asyncio.to_thread(
            subprocess.run,
            [LAF, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env(**env),
            timeout=timeout,
            stdin=None if stdin is not None else subprocess.DEVNULL,
        )
        return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
async def stack(pg_template, request):
    log_dir = ARTIFACTS / request.module.__name__.rsplit(".", 1)[-1]
    async with running_stack(pg_template, log_dir, LAF_COORDINATOR_SWEEP_S="0.5") as stack:
        yield stack


@pytest.fixture
async def api(stack):
    async with httpx.AsyncClient(
        base_url=stack.api_url, timeout=10, headers=stack.auth_headers
    ) as client:
        yield client


@pytest.fixture
def laf(stack, tmp_path) -> Laf:
    """`laf` as the test stack's admin (its API token in LAF_TOKEN)."""
    return Laf(stack.api_url, stack.admin_token, tmp_path / "config")


async def token_for(api: httpx.AsyncClient, user: str, role: str) -> str:
    """An API token of a new user holding `role` (made by the admin client)."""
    made = await api.post("/api/users", json={"name": user, "roles": [role]})
    assert made.status_code in (201, 409), made.text
    token = await api.post("/api/tokens", json={"name": "tests", "user": user, "roles": [role]})
    assert token.status_code == 201, token.text
    return token.json()["token"]


async def wait_for(api: httpx.AsyncClient, workflow_id: str, task: str | None, status: str) -> dict:
    """Poll until the workflow (or its task) is in `status` (fails at the deadline)."""
    async with asyncio.timeout(30):
        while True:
            workflow = (await api.get(f"/api/workflows/{workflow_id}")).json()
            if task is None and workflow["status"] == status:
                return workflow
            states = {t["name"]: t["status"] for t in workflow["tasks"]}
            if task is not None and states.get(task) == status:
                return workflow
            await asyncio.sleep(0.05)


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)
