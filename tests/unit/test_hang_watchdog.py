"""The hang watchdog (tests/hang_watchdog.py) ends a run whose test pytest-timeout cannot stop,
with the test's name and every thread's stack in the report, as scripts/test prints it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

HANGS = """
import time

def test_swallows_every_timeout():
    while True:
        try:
            time.sleep(0.05)
        except BaseException:  # pytest-timeout's Failed too: it cannot stop this test
            pass

def test_never_reached():
    pass
"""


def run_pytest(
    directory: Path, test: str, report: Path, *options: str, hang_s: str = "600"
) -> subprocess.CompletedProcess[str]:
    """pytest on `directory`/`test` with this suite's conftest (and so its watchdog)."""
    env = {
        # (not this run's xdist worker: the inner run is a pytest of its own)
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")},
        "PYTHONPATH": str(ROOT),
        "HELPPOINT_HANG_S": hang_s,
        "HELPPOINT_HANG_REPORT": str(report),
    }
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    return subprocess.run(
        [*pytest, "-p", "tests.conftest", *options, str(directory / test)],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_test_that_swallows_the_timeout_ends_the_run_with_its_stack(tmp_path: Path) -> None:
    (tmp_path / "test_hangs.py").write_text(HANGS)
    report = tmp_path / "hung.txt"
    run = run_pytest(tmp_path, "test_hangs.py", report, "--timeout=1", hang_s="3")
    assert run.returncode != 0
    assert "test_never_reached" not in run.stdout  # the run was ended there
    text = report.read_text()
    assert text.startswith("The test test_hangs.py::test_swallows_every_timeout did not end")
    assert "in test_swallows_every_timeout" in text  # the hung thread's stack


def test_a_run_that_does_not_hang_leaves_an_empty_report(tmp_path: Path) -> None:
    (tmp_path / "test_quick.py").write_text("def test_quick():\n    pass\n")
    report = tmp_path / "hung.txt"
    run = run_pytest(tmp_path, "test_quick.py", report)
    assert run.returncode == 0, run.stdout + run.stderr
    assert report.read_text() == ""


def test_a_hung_worker_of_a_run_in_two_processes_leaves_its_own_report(tmp_path: Path) -> None:
    """Under pytest-xdist (scripts/test's -n 2) the hung worker is ended, its test reported as
    crashed, and the stacks are in that worker's own report file."""
    (tmp_path / "test_hangs.py").write_text(HANGS)
    report = tmp_path / "hung.txt"
    run = run_pytest(tmp_path, "test_hangs.py", report, "-n", "2", "--timeout=1", hang_s="3")
    assert run.returncode != 0
    assert "crashed" in run.stdout, run.stdout
    reports = [path for path in tmp_path.glob("hung.txt.gw*.*") if path.read_text()]
    assert len(reports) == 1, sorted(tmp_path.iterdir())
    text = reports[0].read_text()
    assert text.startswith("The test test_hangs.py::test_swallows_every_timeout did not end")
    assert "in test_swallows_every_timeout" in text
