"""The built frontend in Debian's Chromium against the real stack (issue #6).

The four services run as processes on a throw-away database and vhost (as in
tests/e2e), the API serving frontend/dist; node runs the playwright-core
scenarios of frontend/e2e/ against it. Screenshots go to test-artifacts/browser/.
"""

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from devstack import Stack, running_stack

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
DIST = FRONTEND / "dist"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = Path(os.environ.get("LAF_CHROMIUM", "/usr/bin/chromium"))
LAB = ROOT / "examples" / "lab.json"


def pytest_collection_modifyitems(items):
    for item in items:
        if "/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def frontend_dist() -> Path:
    """frontend/dist, built now if it is missing or older than its sources."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("node and npm are needed (scripts/ensure-services.sh installs them)")
    build = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-frontend.sh")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, f"the frontend build failed:\n{build.stdout}\n{build.stderr}"
    assert (DIST / "index.html").is_file()
    return DIST


@pytest.fixture(scope="module")
async def browser_stack(pg_template, frontend_dist, request):
    """The four services on a throw-away database and vhost, the API serving frontend/dist."""
    log_dir = ARTIFACTS / "logs" / request.module.__name__.rsplit(".", 1)[-1]
    async with running_stack(
        pg_template,
        log_dir,
        LAF_COORDINATOR_SWEEP_S="0.5",
        LAF_API_FRONTEND_DIR=str(frontend_dist),
    ) as stack:
        await seed_lab(stack.api_url, stack.auth_headers)
        await make_users(stack)
        yield stack


# The people the browser logs in as: an operator for the scenarios, a viewer to see
# what a read-only role is (not) offered, two reviewers (one reviews, the other
# approves) and an admin who checks the audit chain: name -> (role, password, full name).
USERS = {
    "olga": ("operator", "olga-operates-the-lab", "Olga Operator"),
    "vic": ("viewer", "vic-only-looks-here", "Vic Viewer"),
    "rita": ("reviewer", "rita-reviews-results", "Rita Reviewer"),
    "abe": ("reviewer", "abe-approves-batches", "Abe Approver"),
    "ada": ("admin", "ada-administers-laf", "Ada Admin"),
}


async def make_users(stack: Stack) -> None:
    async with httpx.AsyncClient(
        base_url=stack.api_url, timeout=10, headers=stack.auth_headers
    ) as c:
        for name, (role, password, full_name) in USERS.items():
            made = await c.post(
                "/api/users",
                json={"name": name, "password": password, "roles": [role], "full_name": full_name},
            )
            assert made.status_code == 201, made.text


async def seed_lab(api_url: str, headers: dict[str, str]) -> None:
    """Register the demo lab's instruments (examples/lab.json)."""
    async with httpx.AsyncClient(base_url=api_url, timeout=10, headers=headers) as client:
        for instrument in json.loads(LAB.read_text()):
            response = await client.post("/api/instruments", json=instrument)
            assert response.status_code == 201, response.text


async def run_scenarios(stack: Stack, *scenarios: str, timeout: float = 240) -> str:
    """Run frontend/e2e/run.mjs for these scenarios; fail with node's output unless all pass."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing (scripts/ensure-services.sh installs Debian's chromium)"
        )
    env = {
        **os.environ,
        "LAF_E2E_BASE_URL": stack.api_url,
        "LAF_E2E_USERNAME": "olga",
        "LAF_E2E_PASSWORD": USERS["olga"][1],
        "LAF_E2E_VIEWER_USERNAME": "vic",
        "LAF_E2E_VIEWER_PASSWORD": USERS["vic"][1],
        "LAF_E2E_REVIEWER_USERNAME": "rita",
        "LAF_E2E_REVIEWER_PASSWORD": USERS["rita"][1],
        "LAF_E2E_APPROVER_USERNAME": "abe",
        "LAF_E2E_APPROVER_PASSWORD": USERS["abe"][1],
        "LAF_E2E_ADMIN_USERNAME": "ada",
        "LAF_E2E_ADMIN_PASSWORD": USERS["ada"][1],
        "LAF_E2E_ARTIFACTS": str(ARTIFACTS),
        "LAF_CHROMIUM": str(CHROMIUM),
    }
    done = await asyncio.to_thread(
        subprocess.run,
        ["node", "e2e/run.mjs", *scenarios],
        cwd=FRONTEND,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, (
        f"browser scenarios {', '.join(scenarios)} failed (exit {done.returncode}); "
        f"screenshots in {ARTIFACTS}, service logs in {stack.log_dir}:\n{output}"
    )
    return output
