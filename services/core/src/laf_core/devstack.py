"""Start LAF's services as separate processes: `make run` and the end-to-end tests.

Each service is its own console script (laf-api, laf-listener, …), so any one
can be killed and restarted on its own, exactly as in production.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

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


@dataclass
class Stack:
    """The four services as processes sharing one environment."""

    env: dict[str, str]
    log_dir: Path
    api_port: int = field(default_factory=free_port)
    simlab_port: int = field(default_factory=free_port)
    processes: dict[str, Process] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def simlab_url(self) -> str:
        """The simulated lab (`start("simlab")`), which serves no LAF settings but its own."""
        return f"http://127.0.0.1:{self.simlab_port}"

    def start(self, service: str, name: str | None = None, **extra_env: str) -> Process:
        name = name or service
        env = {**os.environ, **self.env, **extra_env}
        if service == "api":
            env.update(LAF_API_PORT=str(self.api_port), LAF_API_HOST="127.0.0.1")
            health_url = f"{self.api_url}/readyz"
        elif service == "simlab":
            env.update(LAF_SIMLAB_PORT=str(self.simlab_port), LAF_SIMLAB_HOST="127.0.0.1")
            health_url = f"{self.simlab_url}/readyz"
        else:
            port = free_port()
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
        process = Process(name, service, popen, log, health_url)
        self.processes[name] = process
        return process

    def start_all(self) -> None:
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
