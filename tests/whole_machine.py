"""Tests that change the whole machine run alone, while the suite runs in several processes.

`scripts/test` runs the suite in two pytest processes (pytest-xdist), and a developer may run a
second suite beside it. A few tests change what every other test uses: the one that restarts
the machine's PostgreSQL server ends every other test's connections. Those are marked
`whole_machine`; each one holds this machine-wide lock exclusively, and every other test holds
it shared, so a `whole_machine` test waits for the tests already running to end, and no test
starts until it has ended.

A second lock is the turnstile: a test takes it before the main lock and lets it go once it
holds the main lock, so a `whole_machine` test that waits holds the turnstile and stops new
shared holders from overtaking it (the other worker's tests follow each other without a gap
it could use, and `flock` is not fair by itself).

The locks are `flock`s on files in the temporary directory: the kernel lets them go when a
process dies, a crashed or killed pytest process included.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

MARKER = "whole_machine"
#: Overridable so that a test of the lock can use its own pair of files.
LOCK_DIR_ENV = "HELPPOINT_TEST_LOCK_DIR"

_files: dict[str, int] = {}


def _descriptor(name: str) -> int:
    """This process's descriptor of the lock file `name` (opened once, kept open)."""
    directory = Path(os.environ.get(LOCK_DIR_ENV) or tempfile.gettempdir())
    path = str(directory / f"helppoint-tests-{name}.lock")
    if path not in _files:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        # Another user's suite on this machine takes it too (if another user made the file,
        # they made it so already).
        with suppress(PermissionError):
            os.fchmod(fd, 0o666)
        _files[path] = fd
    return _files[path]


@contextmanager
def holding(exclusive: bool) -> Iterator[None]:
    """Hold the machine for a test: alone if `exclusive`, else shared with other tests."""
    gate, room = _descriptor("turnstile"), _descriptor("machine")
    fcntl.flock(gate, fcntl.LOCK_EX)
    try:
        fcntl.flock(room, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
    finally:
        fcntl.flock(gate, fcntl.LOCK_UN)
    try:
        yield
    finally:
        fcntl.flock(room, fcntl.LOCK_UN)
