"""`make run`: LAF on this machine — migrate, start the four services, submit a demo.

Stops everything cleanly on Ctrl-C. Logs go to .run/logs/<service>.log.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import httpx

from laf_core.db.migrate import apply, create_database
from laf_core.devstack import Stack
from laf_core.settings import DEV_WEBHOOK_SECRET

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "assay-simlab.json"  # runs on laf-simlab's instruments
LAB = ROOT / "examples" / "lab.json"


def say(message: str) -> None:
    print(message, flush=True)  # noqa: T201 - this is a terminal program


def main() -> None:
    database_url = os.environ.get("LAF_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/laf")
    port = int(os.environ.get("LAF_API_PORT", "8000"))
    asyncio.run(create_database(database_url))
    applied = asyncio.run(apply(database_url))
    say(f"database ready ({database_url}; {len(applied)} migration(s) applied now)")

    stack = Stack(
        env={
            "LAF_DATABASE_URL": database_url,
            "LAF_AMQP_URL": os.environ.get("LAF_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
            "LAF_WEBHOOK_SECRET": os.environ.get("LAF_WEBHOOK_SECRET", DEV_WEBHOOK_SECRET),
            "LAF_DEV_MODE": os.environ.get("LAF_DEV_MODE", "1"),
            "LAF_API_FRONTEND_DIR": os.environ.get(
                "LAF_API_FRONTEND_DIR", str(ROOT / "frontend" / "dist")
            ),
            "LAF_LOG_JSON": "1",
        },
        log_dir=ROOT / ".run" / "logs",
        api_port=port,
        simlab_port=int(os.environ.get("LAF_SIMLAB_PORT", "8100")),  # examples/lab.json's endpoints
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
        seed_lab(stack.api_url)
        workflow_id = submit_demo(stack.api_url)
        say("")
        say(f"  LAF is running at  {stack.api_url}/")
        say(f"  API docs:          {stack.api_url}/docs")
        say(f"  demo workflow:     {stack.api_url}/api/workflows/{workflow_id}")
        say("  Press Ctrl-C to stop everything.")
        say("")
        report_demo(stack, workflow_id, lambda: stopping)
        while not stopping:
            for process in stack.processes.values():
                if process.popen.poll() is not None:
                    say(
                        f"{process.name} exited with {process.popen.returncode}; see {stack.log_dir}"
                    )
                    return
            time.sleep(0.5)
    finally:
        say("stopping LAF …")
        stack.stop_all()
        say("stopped.")


def seed_lab(api_url: str) -> None:
    """Register the demo lab (examples/lab.json); an existing instrument is updated to match."""
    for instrument in json.loads(LAB.read_text()):
        response = httpx.post(f"{api_url}/api/instruments", json=instrument, timeout=10)
        if response.status_code == 409:
            fields = {k: v for k, v in instrument.items() if k not in ("id", "kind")}
            response = httpx.patch(
                f"{api_url}/api/instruments/{instrument['id']}", json=fields, timeout=10
            )
        response.raise_for_status()


def submit_demo(api_url: str) -> str:
    response = httpx.post(f"{api_url}/api/workflows", json=json.loads(DEMO.read_text()), timeout=10)
    response.raise_for_status()
    return str(response.json()["id"])


def report_demo(stack: Stack, workflow_id: str, stopping: object) -> None:
    """Follow the demo until it ends, printing each task as it finishes."""
    shown: set[str] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not stopping():  # type: ignore[operator]
        response = httpx.get(f"{stack.api_url}/api/workflows/{workflow_id}", timeout=10)
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
