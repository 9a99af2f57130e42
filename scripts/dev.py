"""`make run`: LAF on this machine — migrate, start the four services, submit a demo.

Secure by default: an `admin` user with a random password (printed once, and kept
with an admin API token in .run/admin-credentials.json, mode 0600), a random
signing secret and a runner token in .run/secrets/ (0600), given only to the
services that need them. A service that dies (a crash, an out-of-memory kill, `kill -9`)
is started again with backoff and a line saying so (devstack.Supervisor); Ctrl-C stops
everything cleanly. Logs go to .run/logs/<service>.log.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sys
import time
from pathlib import Path

import httpx

from devstack import Stack, Supervisor, secret_files
from laf_api.admin_cli import ensure_user, issue_token
from laf_core.credentials import digest
from laf_core.db.migrate import apply, create_database, service_dsn
from laf_core.db.pool import Connection, connect
from laf_core.files import write_private

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / ".run"
CREDENTIALS = RUN / "admin-credentials.json"
SECRETS = RUN / "secrets"
DEMO = ROOT / "examples" / "assay-simlab.json"  # runs on laf-simlab's instruments
LAB = ROOT / "examples" / "lab.json"


# Where `make run` serves each worker's /healthz, /readyz and /metrics (README, Observability).
PROBE_PORTS = {"listener": 9101, "coordinator": 9102, "runner": 9103}


def say(message: str) -> None:
    print(message, flush=True)  # noqa: T201 - this is a terminal program


def main() -> None:
    database_url = os.environ.get("LAF_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/laf")
    port = int(os.environ.get("LAF_API_PORT", "8000"))
    asyncio.run(create_database(database_url))
    applied = asyncio.run(apply(database_url))
    say(f"database ready ({database_url}; {len(applied)} migration(s) applied now)")
    # Migrations ran as the owner; the services connect as their own role, which may
    # not change or delete the audit record (README "Part 11").
    service_url = os.environ.get("LAF_DATABASE_SERVICE_URL", service_dsn(database_url))
    admin, runner_token, fresh = asyncio.run(provision(database_url))
    webhook_secret = _kept_secret(SECRETS / "webhook-secret")

    simlab_port = int(os.environ.get("LAF_SIMLAB_PORT", "8100"))  # examples/lab.json's endpoints
    amqp_url = os.environ.get("LAF_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    stack = Stack(
        env={
            "LAF_DATABASE_URL": service_url,
            "LAF_AMQP_URL": amqp_url,
            "LAF_API_FRONTEND_DIR": os.environ.get(
                "LAF_API_FRONTEND_DIR", str(ROOT / "frontend" / "dist")
            ),
            "LAF_LOG_JSON": "1",
            # local tasks run as `nobody`, so they cannot read the runner's secret files
            "LAF_RUNNER_TASK_USER": os.environ.get(
                "LAF_RUNNER_TASK_USER", "nobody" if os.geteuid() == 0 else ""
            ),
            # The task policy allows what the demo and examples/ use, no more.
            "LAF_TASK_PYTHON_MODULES": os.environ.get(
                "LAF_TASK_PYTHON_MODULES", "laf_runner.library"
            ),
            "LAF_TASK_LOCAL_PROGRAMS": os.environ.get("LAF_TASK_LOCAL_PROGRAMS", "sh"),
            "LAF_TASK_IMAGE_PREFIXES": os.environ.get("LAF_TASK_IMAGE_PREFIXES", ""),
            "LAF_INSTRUMENT_ENDPOINTS": os.environ.get(
                "LAF_INSTRUMENT_ENDPOINTS", f"http://127.0.0.1:{simlab_port}"
            ),
        },
        service_env=secret_files(SECRETS, webhook_secret, runner_token, amqp_url),
        admin_token=admin["token"],
        log_dir=RUN / "logs",
        api_port=port,
        simlab_port=simlab_port,
        probe_ports=PROBE_PORTS,
    )
    stopping = False

    def on_signal(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        with httpx.Client() as probe:
            try:
                probe.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                sys.exit(f"port {port} is already in use; stop what runs there or set LAF_API_PORT")
            except httpx.HTTPError:
                pass
        stack.start_all()
        stack.start(
            "simlab", LAF_SIMLAB_TIME_SCALE=os.environ.get("LAF_SIMLAB_TIME_SCALE", "0.005")
        )
        stack.wait_ready(timeout=60)
        say(f"services ready: {', '.join(stack.processes)} (logs in {stack.log_dir})")
        seed_lab(stack.api_url, stack.auth_headers)
        workflow_id = submit_demo(stack.api_url, stack.auth_headers)
        say("")
        say(f"  LAF is running at  {stack.api_url}/")
        if fresh:
            say(f"  log in as          {admin['username']} / {admin['password']}  (shown once)")
        say(f"  credentials:       {CREDENTIALS.relative_to(ROOT)} (username, password, token)")
        say(f"  API docs:          {stack.api_url}/docs  (messages: {stack.api_url}/asyncapi)")
        metrics = ", ".join(f"{s} :{p}" for s, p in PROBE_PORTS.items())
        say(f"  metrics:           {stack.api_url}/metrics; /metrics on {metrics}")
        say(f"  command line:      uv run laf login -u {admin['username']}   (then laf --help)")
        say(f"  demo workflow:     {stack.api_url}/api/workflows/{workflow_id}")
        say("  Press Ctrl-C to stop everything.")
        say("")
        supervisor = Supervisor(stack, say)
        report_demo(stack, workflow_id, lambda: stopping, supervisor)
        supervisor.run(lambda: stopping)
    finally:
        say("stopping LAF …")
        stack.stop_all()
        say("stopped.")


def _kept_secret(path: Path) -> str:
    """The secret kept in `path`, made (random, 48 bytes of text) when missing or short."""
    if path.exists() and len(kept := path.read_text().strip()) >= 32:
        return kept
    secret = secrets.token_urlsafe(48)
    write_private(path, secret + "\n")
    return secret


async def provision(database_url: str) -> tuple[dict[str, str], str, bool]:
    """The admin's credentials (made, or kept from .run/admin-credentials.json and made
    valid again), a runner token (kept from .run/secrets/runner-token while it is valid),
    and whether the admin's password is new."""
    conn = await connect(database_url)
    try:
        fresh = not CREDENTIALS.exists()
        admin = (
            {"username": "admin", "password": secrets.token_urlsafe(18), "token": ""}
            if fresh
            else json.loads(CREDENTIALS.read_text())
        )
        await ensure_user(conn, admin["username"], admin["password"], ["admin"])
        if not await _token_valid(conn, admin.get("token", "")):
            admin["token"] = await issue_token(conn, "make run", admin["username"], ["admin"])
        write_private(CREDENTIALS, json.dumps(admin, indent=2) + "\n")
        runner_file = SECRETS / "runner-token"
        runner_token = runner_file.read_text().strip() if runner_file.exists() else ""
        if not await _token_valid(conn, runner_token):
            runner_token = await issue_token(conn, "make run runners", "runner", ["runner"])
        return admin, runner_token, fresh
    finally:
        await conn.close()


async def _token_valid(conn: Connection, token: str) -> bool:
    if not token:
        return False
    found = await conn.fetchval(
        "SELECT count(*) FROM tokens WHERE digest = $1 AND revoked_at IS NULL "
        "AND (expires_at IS NULL OR expires_at > now())",
        digest(token),
    )
    return bool(found)


def seed_lab(api_url: str, headers: dict[str, str]) -> None:
    """Register the demo lab (examples/lab.json); an existing instrument is updated to match."""
    for instrument in json.loads(LAB.read_text()):
        response = httpx.post(
            f"{api_url}/api/instruments", json=instrument, timeout=10, headers=headers
        )
        if response.status_code == 409:
            fields = {k: v for k, v in instrument.items() if k not in ("id", "kind")}
            response = httpx.patch(
                f"{api_url}/api/instruments/{instrument['id']}",
                json=fields,
                timeout=10,
                headers=headers,
            )
        response.raise_for_status()


def submit_demo(api_url: str, headers: dict[str, str]) -> str:
    response = httpx.post(
        f"{api_url}/api/workflows",
        json=json.loads(DEMO.read_text()),
        timeout=10,
        headers=headers,
    )
    response.raise_for_status()
    return str(response.json()["id"])


def report_demo(stack: Stack, workflow_id: str, stopping: object, supervisor: Supervisor) -> None:
    """Follow the demo until it ends, printing each task as it finishes (and supervising
    the services meanwhile)."""
    shown: set[str] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not stopping():  # type: ignore[operator]
        supervisor.check()
        try:
            response = httpx.get(
                f"{stack.api_url}/api/workflows/{workflow_id}",
                timeout=10,
                headers=stack.auth_headers,
            )
        except httpx.HTTPError:  # the API is being restarted
            time.sleep(0.5)
            continue
        if response.status_code == 503:
            time.sleep(0.5)
            continue
        if response.status_code != 200:
            say(f"cannot follow the demo: {response.status_code} {response.text[:200]}")
            return
        workflow = response.json()
        for task in workflow["tasks"]:
            if task["status"] in {"succeeded", "failed", "skipped"} and task["name"] not in shown:
                shown.add(task["name"])
                outputs = {  # the scalars; series and chromatograms are for the browser
                    k: v
                    for k, v in (task["outputs"] or {}).items()
                    if not k.endswith("_tail") and not isinstance(v, list | dict)
                }
                say(f"  {task['name']:<16} {task['status']:<10} {json.dumps(outputs)[:90]}")
        if workflow["status"] in {"succeeded", "failed", "cancelled"}:
            say(f"demo workflow {workflow['status']}.")
            return
        time.sleep(0.2)


if __name__ == "__main__":
    main()
