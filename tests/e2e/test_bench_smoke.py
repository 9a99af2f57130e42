"""`make bench` works: its quick variant runs every scenario on the real stack and
prints each figure. No timing is asserted (a shared CI machine's speed says nothing);
the figures are checked to be there, finite, and from work that succeeded."""

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIGURE = r"(\d+(?:\.\d+)?)"


@pytest.mark.timeout(400)
def test_the_quick_benchmark_prints_every_figure():
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=380,
        check=False,
        cwd=ROOT,
    )
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    expected = {
        "chain step": rf"chain100 step, start->start\s+p50\s+{FIGURE} ms\s+p99\s+{FIGURE} ms",
        "hand-off": rf"chain100 hand-off\s+p50\s+{FIGURE} ms",
        "submit": rf"submit -> task start\s+p50\s+{FIGURE} ms",
        "throughput": rf"fanout throughput\s+{FIGURE} tasks/s",
        "large": rf"submit answered in {FIGURE} ms; {FIGURE} ms per task",
        "audit": rf"audit chain\s+-?{FIGURE} us per history row",
    }
    for name, pattern in expected.items():
        found = re.search(pattern, out)
        assert found, f"no {name} figure in:\n{out}"
        assert all(math.isfinite(float(v)) for v in found.groups())
    # Every workflow of the throughput run and the large fan-out succeeded.
    assert re.search(r"10 x 10-task chains at once, 10 succeeded", out), out
    assert re.search(r"GET of it p50 \d+ ms \([\d.]+ MB, succeeded\)", out), out
    assert re.search(r"memory, RSS idle -> after\s+api \d+ -> \d+ MB", out), out
    assert re.search(r"spans received: [1-9]\d*", out), out
