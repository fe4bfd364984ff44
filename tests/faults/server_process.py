"""Run `helppoint serve` as a real subprocess, so a test can SIGKILL it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.ports import free_port

#: How many ports a first start tries (see ServerProcess.start).
PORT_ATTEMPTS = 3
#: What uvicorn logs when the port is taken (lower case).
_PORT_TAKEN = "address already in use"


class _PortTaken(Exception):
    """The server exited at start: its port was taken."""


class ServerProcess:
    """`helppoint serve` on a database and port, started and killed on demand."""

    def __init__(
        self,
        database_url: str,
        port: int,
        log_path: Path,
        extra_args: list[str] | None = None,
        *,
        log_level: str = "warning",
        python_args: list[str] | None = None,
    ) -> None:
        self.extra_args = extra_args or []
        self.log_level = log_level
        #: Arguments for the interpreter before ``-m helppoint.cli`` (e.g. a profiler's).
        self.python_args = python_args or []
        self.database_url = database_url
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 240.0) -> None:
        """Start the server and wait until it listens (or exits, which fails at once).

        `timeout` only guards against a hang (below pytest-timeout's 300 s, so the failure says
        what hung): a server starts in seconds, but on a machine busy with other work its start
        can take tens of seconds, and a short deadline failed tests that had nothing wrong.

        The port was noted free by the test and is bound by the server seconds later: should
        another program take it in between, the first start is made again on a fresh port
        (read `port` after starting). A start again after a kill keeps its port.
        """
        first = self.process is None
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                self._start(timeout)
                return
            except _PortTaken:
                if not first or attempt == PORT_ATTEMPTS:
                    raise RuntimeError(
                        f"server's port {self.port} was taken; see {self.log_path}"
                    ) from None
                self.port = free_port()

    def _start(self, timeout: float) -> None:
        since = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                *self.python_args,
                "-m",
                "helppoint.cli",
                "serve",
                "--database-url",
                self.database_url,
                "--port",
                str(self.port),
                *self.extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "HELPPOINT_LOG_LEVEL": self.log_level},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if _PORT_TAKEN in self._log_since(since).lower():
                    raise _PortTaken
                raise RuntimeError(
                    f"server exited with {self.process.returncode}; see {self.log_path}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"server did not listen within {timeout} s; see {self.log_path}")

    def _log_since(self, offset: int) -> str:
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", "replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, nothing is flushed."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
