"""A test marked `whole_machine` (tests/whole_machine.py) runs alone while the suite runs in
two processes: no other test runs while it does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

TESTS = """
import os
import time

import pytest

LOG = os.environ["INTERVALS"]


def log(name, run):
    start = time.monotonic()
    run()
    with open(LOG, "a") as out:
        out.write(f"{name} {start} {time.monotonic()}\\n")


@pytest.mark.whole_machine
def test_restarts_the_database():
    log("alone", lambda: time.sleep(1.0))


@pytest.mark.parametrize("n", range(12))
def test_ordinary(n):
    log(f"ordinary{n}", lambda: time.sleep(0.2))
"""


def test_a_whole_machine_test_overlaps_no_other_test(tmp_path: Path) -> None:
    (tmp_path / "test_machine.py").write_text(TESTS)
    intervals = tmp_path / "intervals.txt"
    locks = tmp_path / "locks"  # (not this run's own locks, which this test holds shared)
    locks.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")},
        "PYTHONPATH": str(ROOT),
        "INTERVALS": str(intervals),
        "HELPPOINT_TEST_LOCK_DIR": str(locks),
    }
    env.pop("HELPPOINT_HANG_REPORT", None)
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    run = subprocess.run(
        [*pytest, "-p", "tests.conftest", "-n", "2", str(tmp_path / "test_machine.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    spans = {
        name: (float(start), float(end))
        for name, start, end in (line.split() for line in intervals.read_text().splitlines())
    }
    assert len(spans) == 13
    alone_start, alone_end = spans.pop("alone")
    overlapping = [
        name for name, (start, end) in spans.items() if start < alone_end and end > alone_start
    ]
    assert overlapping == []
