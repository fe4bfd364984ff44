"""`helppoint demo` as a subprocess, as a user runs it: started, read until its banner, used
once it serves, stopped with Ctrl+C (SIGINT to its process group).

Two races this keeps out of the tests that use it (a loaded whole-suite run found the first):
Ctrl+C sent right after the banner, which is printed before the server starts, made the demo
finish starting (its writer process, workers and units) before stopping, longer than the test
gave it on a busy machine; and a demo whose output nobody reads any more can block writing to
a full pipe. So the test stops a demo that serves, and a thread reads its output to the end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from tests.waiting import eventually_sync

#: How long a demo may take to start serving or to stop on a busy 2-core machine before the
#: test calls it hung (a quiet machine needs seconds; the suite's own timeout is 300 s).
PATIENCE = 120.0


class DemoProcess:
    def __init__(self, port: int, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.port = port
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "helppoint.cli", "demo", "--port", str(port),
                "--press-every", "0", "--data-dir", str(data_dir),
            ],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._reader: threading.Thread | None = None

    def read_until(self, marker: str) -> str:
        """The output up to and including the first line with `marker`."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if marker in line:
                break
        else:
            raise AssertionError(f"the demo ended before {marker!r}:\n{self.output}")
        self._reader = threading.Thread(target=self._read_the_rest, daemon=True)
        self._reader.start()
        return self.output

    def _read_the_rest(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_serving(self) -> None:
        def serves() -> bool:
            assert self.process.poll() is None, f"the demo ended:\n{self.output}"
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=None)
            except httpx.TransportError:
                return False
            return True

        eventually_sync(serves, within=PATIENCE, every=0.2, what="the demo serving")

    def stop(self) -> int:
        """Ctrl+C, then its exit code; killed (and the test failed) if it does not stop."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            code = self.process.wait(PATIENCE)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise AssertionError(f"the demo did not stop on Ctrl+C:\n{self.output}") from None
        if self._reader is not None:
            self._reader.join(PATIENCE)
        return code
