"""A last guard against a test that hangs where pytest-timeout cannot stop it.

pytest-timeout (`--timeout`, pyproject.toml) fails a test by raising in the main thread from a
signal handler, which Python runs only between bytecodes: a main thread blocked in C code, or
a thread holding the GIL, keeps it from ever running, and the whole run then waits until CI
gives up, with no word of where. Here, before each test, `faulthandler` is armed: should the
test (setup, call and teardown) last longer than HANG_S, it writes every thread's stack to the
report file (a C-level timer thread, which needs no GIL) and ends the run. `scripts/test`
prints that file after pytest ends.

Under pytest-xdist each worker process writes its own file, the report's name plus the
worker's id and process id (`hung-test.txt.gw0.1234`): a hung worker is ended and xdist
reports its test as crashed and starts another worker, whose report must not overwrite it.
"""

from __future__ import annotations

import faulthandler
import os
import time
from pathlib import Path
from typing import IO

#: Well above pytest-timeout's 300 s for a test plus its fixtures' own deadlines (a test of the
#: watchdog sets HELPPOINT_HANG_S lower).
HANG_S = float(os.environ.get("HELPPOINT_HANG_S", "600"))
#: Where the stacks of a hung run go (scripts/test sets it and prints the file).
REPORT_ENV = "HELPPOINT_HANG_REPORT"

_report: IO[str] | None = None


def report_path() -> str | None:
    """This process's report file, if a report is asked for."""
    path = os.environ.get(REPORT_ENV)
    if not path:
        return None
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return f"{path}.{worker}.{os.getpid()}" if worker else path


def arm(nodeid: str) -> None:
    """Before a test: note which one it is, and arm the timer."""
    global _report
    path = report_path()
    if path is None:
        return
    if _report is None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        _report = open(path, "w", encoding="utf-8")  # noqa: SIM115 (open for the whole run)
    _report.seek(0)
    _report.truncate()
    _report.write(
        f"The test {nodeid} did not end within {HANG_S:g} s "
        f"(started {time.strftime('%H:%M:%S')}); the run was ended. Every thread's stack:\n"
    )
    _report.flush()
    faulthandler.dump_traceback_later(HANG_S, exit=True, file=_report)


def disarm() -> None:
    """After a test: nothing hung."""
    if _report is not None:
        faulthandler.cancel_dump_traceback_later()
        _report.seek(0)
        _report.truncate()
        _report.flush()
