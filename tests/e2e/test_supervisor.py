"""`make run` supervises: a service killed with SIGKILL is started again with backoff and a
line saying so; Ctrl-C still stops everything. The service here is laf-simlab, a real
process that needs no database, on a random port."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx

from devstack import Stack, Supervisor

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not {what} after {timeout}s"
        time.sleep(0.05)


def test_a_service_killed_is_started_again_with_backoff_and_a_line_saying_so(tmp_path):
    stack = Stack(env={}, log_dir=tmp_path / "logs")
    said: list[str] = []
    supervisor = Supervisor(stack, said.append, first_delay_s=0.2, max_delay_s=0.8)
    stack.start("simlab")
    try:
        stack.wait_ready(30)
        for round_ in (1, 2, 3):
            first = stack.processes["simlab"].popen.pid
            os.kill(first, signal.SIGKILL)
            wait_until(
                lambda r=round_: supervisor.check() or supervisor.restarts.get("simlab") == r,
                30,
                f"restarted {round_} time(s)",
            )
            assert stack.processes["simlab"].popen.pid != first
            stack.wait_ready(30)
            assert httpx.get(f"{stack.simlab_url}/readyz", timeout=5).status_code == 200
        exits = [line for line in said if "exited" in line]
        assert len(exits) == 3 and all("signal SIGKILL" in line for line in exits)
        # The backoff doubles while it keeps dying: 0.2 s, 0.4 s, then 0.8 s (the cap).
        assert [line.split(" in ")[1].split("s ")[0] for line in exits] == ["0.2", "0.4", "0.8"]
        assert [line for line in said if "started again" in line] == [
            f"simlab started again (restart {n})" for n in (1, 2, 3)
        ]
    finally:
        stack.stop_all()


def test_ctrl_c_stops_the_supervised_services(tmp_path):
    """A small `make run`: SIGINT while supervising stops the service and the supervisor."""
    pid_file = tmp_path / "simlab.pid"
    program = textwrap.dedent(
        f"""
        import signal, sys
        from pathlib import Path
        sys.path.insert(0, {str(SCRIPTS)!r})
        from devstack import Stack, Supervisor
        stopping = False
        def on_signal(*_):
            global stopping
            stopping = True
        signal.signal(signal.SIGINT, on_signal)
        stack = Stack(env={{}}, log_dir=Path({str(tmp_path / "logs")!r}))
        try:
            stack.start("simlab")
            stack.wait_ready(30)
            Path({str(pid_file)!r}).write_text(str(stack.processes["simlab"].popen.pid))
            Supervisor(stack, print).run(lambda: stopping)
        finally:
            stack.stop_all()
            print("stopped.", flush=True)
        """
    )
    make_run = subprocess.Popen(
        [sys.executable, "-c", program], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_until(lambda: pid_file.exists() and pid_file.read_text(), 30, "started")
        service = int(pid_file.read_text())
        make_run.send_signal(signal.SIGINT)
        output, _ = make_run.communicate(timeout=30)
        assert make_run.returncode == 0, output
        assert b"stopped." in output
        assert b"started again" not in output
        wait_until(lambda: not _alive(service), 10, "stopped")
    finally:
        if make_run.poll() is None:
            make_run.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purpose (stopped, not yet reaped by its parent).
    status = Path(f"/proc/{pid}/stat")
    return status.exists() and status.read_text().split(") ")[1][0] != "Z"
