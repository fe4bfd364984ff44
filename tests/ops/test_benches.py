"""Every benchmark in bench/ starts: its imports resolve and it prints its usage.

The benchmarks are run by hand, not by the suite, so an import they share with the tests
(tests/faults/server_process.py, say) could break them unseen until the next measurement.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("*.py")))
def test_the_benchmark_prints_its_usage(script: str) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--help"],
        capture_output=True,
        text=True,
        cwd="/",
        timeout=None,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout
