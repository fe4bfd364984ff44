"""Run the `helppoint` command in the test's own process, as `python -m helppoint.cli` would.

A subprocess pays for starting Python and importing the server (seconds on a busy machine)
every time; most command-line tests are about what a command does, not about the process, so
they run `helppoint.cli.main` here with its own stdin, stdout and stderr, and get the same
CompletedProcess a subprocess gives: the exit code (argparse's SystemExit included), what was
printed, the log lines the command emitted (as the command's basicConfig would print them to
stderr) and, for an unexpected exception, its traceback on stderr with exit code 1. Tests that
are about the process itself (`python -m helppoint.cli` starts, servers, signals) still start
one (tests/cli/test_cli.py keeps a few).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping, Sequence

from helppoint.cli import main

#: The format of the command's own logging.basicConfig (helppoint/cli.py main).
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _ThisThread(logging.Filter):
    """Only the command's records: a live server in another thread logs too."""

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread == self.thread


@contextlib.contextmanager
def _environment(changes: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run(
    argv: Sequence[str], stdin: str = "", env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`helppoint ARGV` with `stdin` as its input and `env` added to the environment."""
    out, err = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(_ThisThread())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if "--verbose" in argv or "-v" in argv else logging.INFO)
    saved_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with (
            _environment(env or {}),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            try:
                code = main(list(argv))
            except SystemExit as exit:
                if isinstance(exit.code, str):
                    print(exit.code, file=sys.stderr)
                    code = 1
                else:
                    code = exit.code or 0
            except Exception:
                traceback.print_exc()
                code = 1
    finally:
        sys.stdin = saved_stdin
        root.removeHandler(handler)
        root.setLevel(level)
    return subprocess.CompletedProcess(["helppoint", *argv], code, out.getvalue(), err.getvalue())
