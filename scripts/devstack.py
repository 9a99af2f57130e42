"""Start LAF's services as separate processes: `make run`, `make bench` and the tests.

Each service is its own console script (laf-api, laf-listener, …), so any one
can be killed and restarted on its own, exactly as in production. A development
tool, not part of any service: scripts import it from beside them, and pytest
finds it through `pythonpath` in pyproject.toml.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from laf_core.files import write_private
from laf_core.testing import infra

SERVICES = ("api", "listener", "coordinator", "runner")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command(service: str) -> str:
    """The console script of `service`, installed beside this Python."""
    return str(Path(sys.executable).parent / f"laf-{service}")


@dataclass
class Process:
    name: str
    service: str
    popen: subprocess.Popen[bytes]
    log: IO[bytes]
    health_url: str
    extra_env: dict[str, str] = field(default_factory=dict)


@dataclass
class Stack:
    """The four services as processes sharing one environment."""

    env: dict[str, str]
    log_dir: Path
    api_port: int = field(default_factory=free_port)
    simlab_port: int = field(default_factory=free_port)
    processes: dict[str, Process] = field(default_factory=dict)
    database: str = ""  # the throw-away database and vhost of running_stack, if any
    vhost: str = ""
    # Settings only some services get: the signing secret is for the API and runners, the
    # runner token for runners (both as files; see `secret_files`).
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)
    admin_token: str = ""  # an admin's API token, for the caller's requests
    # Probe ports (/healthz, /readyz, /metrics) by process name (`make run`: fixed ones;
    # start_all picks the rest); another process of a service gets a free port.
    probe_ports: dict[str, int] = field(default_factory=dict)

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"} if self.admin_token else {}

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def simlab_url(self) -> str:
        """The simulated lab (`start("simlab")`), which serves no LAF settings but its own."""
        return f"http://127.0.0.1:{self.simlab_port}"

    def start(self, service: str, name: str | None = None, **extra_env: str) -> Process:
        name = name or service
        env = {**os.environ, **self.env, **self.service_env.get(service, {}), **extra_env}
        if service == "runner":  # a runner's tasks share its host: no password in its env
            env.pop("LAF_DATABASE_URL", None)
            if "LAF_AMQP_URL_FILE" in env:
                env.pop("LAF_AMQP_URL", None)
        if service == "api":  # another replica: start("api", name=…, LAF_API_PORT=…)
            port = extra_env.get("LAF_API_PORT", str(self.api_port))
            env.update(LAF_API_PORT=port, LAF_API_HOST="127.0.0.1")
            health_url = f"http://127.0.0.1:{port}/readyz"
        elif service == "simlab":
            env.update(LAF_SIMLAB_PORT=str(self.simlab_port), LAF_SIMLAB_HOST="127.0.0.1")
            health_url = f"{self.simlab_url}/readyz"
        else:
            port = self.probe_ports.get(name) or free_port()
            env["LAF_HEALTH_PORT"] = str(port)
            health_url = f"http://127.0.0.1:{port}/readyz"
        env.setdefault("LAF_RUNNER_API_URL", self.api_url)
        if service == "runner":
            env.setdefault("LAF_RUNNER_ID", name)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        popen = subprocess.Popen(
            [command(service)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        process = Process(name, service, popen, log, health_url, dict(extra_env))
        self.processes[name] = process
        return process

    def restart(self, name: str) -> Process:
        """Start `name` again as it was started (its service and settings)."""
        old = self.processes[name]
        old.log.close()
        return self.start(old.service, name, **old.extra_env)

    def start_all(self) -> None:
        """The four services; the API told where the workers' probes are (its System page
        asks them), each worker keeping its probe port across restarts."""
        workers = SERVICES[1:]
        for worker in workers:
            self.probe_ports.setdefault(worker, free_port())
        if "LAF_API_SERVICE_PROBES" not in os.environ:
            self.env.setdefault(
                "LAF_API_SERVICE_PROBES",
                ",".join(f"{w}=http://127.0.0.1:{self.probe_ports[w]}" for w in workers),
            )
        for service in SERVICES:
            self.start(service)

    def wait_ready(self, timeout: float = 30.0, names: list[str] | None = None) -> None:
        """Block until every (named) process answers 200 on /readyz."""
        deadline = time.monotonic() + timeout
        waiting = list(names or self.processes)
        while waiting:
            name = waiting[0]
            process = self.processes[name]
            if process.popen.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {process.popen.returncode}; see {self.log_dir}/{name}.log"
                )
            try:
                if httpx.get(process.health_url, timeout=1).status_code == 200:
                    waiting.pop(0)
                    continue
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{name} not ready after {timeout}s; see {self.log_dir}/{name}.log"
                )
            time.sleep(0.1)

    def counters(self, name: str) -> dict[str, float]:
        """The counters on a worker's /metrics (its probe port), by name without the
        service prefix and the `_total` suffix."""
        process = self.processes[name]
        text = httpx.get(process.health_url.replace("/readyz", "/metrics"), timeout=5).text
        prefix = f"laf_{process.service}_"
        found: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith(prefix):
                metric, _, value = line.rpartition(" ")
                metric = metric.split("{")[0]
                if metric.endswith("_total"):
                    found[metric[len(prefix) : -len("_total")]] = float(value)
        return found

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Stop one process (SIGKILL after `timeout`); returns its exit code."""
        process = self.processes.pop(name)
        if process.popen.poll() is None:
            process.popen.send_signal(sig)
            try:
                process.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait()
        process.log.close()
        return process.popen.returncode

    def kill(self, name: str) -> None:
        """kill -9: the crash a fault-injection test wants."""
        self.stop(name, signal.SIGKILL)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)


def exit_description(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"status {code}"


class Supervisor:
    """What `make run` does for its services that Kubernetes would: a process that exits
    (a crash, an out-of-memory kill, `kill -9`) is started again after a backoff, doubling
    from `first_delay_s` to `max_delay_s` while it keeps dying and reset once it stayed up
    for `healthy_after_s`, with a line saying so each time."""

    def __init__(
        self,
        stack: Stack,
        say: Callable[[str], None],
        first_delay_s: float = 1.0,
        max_delay_s: float = 30.0,
        healthy_after_s: float = 60.0,
    ) -> None:
        self.stack = stack
        self.say = say
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        self.healthy_after_s = healthy_after_s
        self.restarts: dict[str, int] = {}
        self._due: dict[str, float] = {}
        self._delay: dict[str, float] = {}
        self._started: dict[str, float] = {}

    def check(self) -> None:
        """Look at every process once: note the ones that exited, restart those due."""
        now = time.monotonic()
        for name, process in list(self.stack.processes.items()):
            code = process.popen.poll()
            if code is None:
                if now - self._started.get(name, 0.0) > self.healthy_after_s:
                    self._delay.pop(name, None)
                continue
            if name not in self._due:
                delay = self._delay.get(name, self.first_delay_s)
                self._delay[name] = min(delay * 2, self.max_delay_s)
                self._due[name] = now + delay
                self.say(
                    f"{name} exited with {exit_description(code)}; starting it again in "
                    f"{delay:.1f}s (see {self.stack.log_dir / name}.log)"
                )
            elif now >= self._due[name]:
                del self._due[name]
                self.stack.restart(name)
                self._started[name] = now
                self.restarts[name] = self.restarts.get(name, 0) + 1
                self.say(f"{name} started again (restart {self.restarts[name]})")

    def run(self, stopping: Callable[[], bool], poll_s: float = 0.2) -> None:
        """Supervise until `stopping()` (Ctrl-C); the caller then stops everything."""
        while not stopping():
            self.check()
            time.sleep(poll_s)


def secret_files(
    folder: Path, webhook_secret: str, runner_token: str, amqp_url: str
) -> dict[str, dict[str, str]]:
    """Write the signing secret, a runner token and the broker URL (it holds a password)
    to files only this user can read; the settings that name them, by service."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private(folder / "webhook-secret", webhook_secret + "\n")
    write_private(folder / "runner-token", runner_token + "\n")
    write_private(folder / "amqp-url", amqp_url + "\n")
    secret = {"LAF_WEBHOOK_SECRET_FILE": str(folder / "webhook-secret")}
    return {
        "api": secret,
        "runner": {
            **secret,
            "LAF_RUNNER_TOKEN_FILE": str(folder / "runner-token"),
            "LAF_AMQP_URL_FILE": str(folder / "amqp-url"),
        },
    }


@contextlib.asynccontextmanager
async def running_stack(template: str, log_dir: Path, **env: str) -> AsyncIterator[Stack]:
    """The four services as processes on a fresh database (cloned from `template`) and
    vhost; everything is stopped and dropped on exit. `env` adds or overrides settings."""
    database = await infra.create_database(template)
    vhost, amqp_url = await asyncio.to_thread(infra.create_vhost)
    secrets = Path(tempfile.mkdtemp(prefix="laf-secrets-"))
    stack = Stack(
        env={
            "LAF_DATABASE_URL": infra.database_url(database),
            "LAF_AMQP_URL": amqp_url,
            "LAF_LOG_JSON": "1",
            **infra.TEST_POLICY,
            **env,
        },
        log_dir=log_dir,
        database=database,
        vhost=vhost,
        service_env=secret_files(secrets, infra.TEST_SECRET, infra.TEST_RUNNER_TOKEN, amqp_url),
        admin_token=infra.TEST_ADMIN_TOKEN,
    )
    try:
        stack.start_all()
        await asyncio.to_thread(stack.wait_ready, 60)
        yield stack
    finally:
        stack.stop_all()
        shutil.rmtree(secrets, ignore_errors=True)
        await asyncio.to_thread(infra.delete_vhost, vhost)
        await infra.drop_database(database)
