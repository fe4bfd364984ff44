"""A uvicorn server in a thread of the test process, on a socket bound before it starts.

Picking a free port (bind to port 0, close, note the number) and letting the server bind it
later leaves a window: the server's own start (the SIP server's and media relay's ports, the
writer process) and the other servers of the suite (Kamailio, rtpengine, baresip, other pytest
runs on the machine) pick ports too, and one of them can take it first. The server's thread
then ends before it listens, with its reason in uvicorn's log, not in the test's failure. Here
the socket is bound first and handed to the server, and a server whose thread ends before it
listens fails the test with what the thread raised and what uvicorn logged.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import traceback

import uvicorn

#: Only a guard against a hang: a busy machine can take tens of seconds to start the writer
#: process and the jobs.
START_DEADLINE_S = 240.0


class ServerDidNotStart(RuntimeError):
    """The test server's thread ended (or hung) before the server listened."""


def bound_socket(port: int = 0, host: str = "127.0.0.1") -> socket.socket:
    """A TCP socket bound to `port` (0: one the OS picks now), not yet listening.

    Until a server listens on it, a connection to it is refused, as to a closed port; but no
    other socket can take the port.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def port_of(sock: socket.socket) -> int:
    port: int = sock.getsockname()[1]
    return port


class _Records(logging.Handler):
    """What uvicorn logs while the server starts (why it stopped, if it did)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def start_in_thread(server: uvicorn.Server, sock: socket.socket) -> threading.Thread:
    """Run `server` on `sock` in a daemon thread; return once it listens.

    Raises ServerDidNotStart with the thread's exception (uvicorn ends a failed start with
    SystemExit, which a thread drops silently) and uvicorn's log lines if it ends first.
    """
    records = _Records()
    uvicorn_log = logging.getLogger("uvicorn.error")
    uvicorn_log.addHandler(records)
    raised: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # SystemExit included: uvicorn's way to give up
            raised.append(exc)

    thread = threading.Thread(target=run, daemon=True, name=f"test server :{port_of(sock)}")
    try:
        thread.start()
        deadline = time.monotonic() + START_DEADLINE_S
        while not server.started:
            if not thread.is_alive():
                thread.join()
                sock.close()
                exc = raised[0] if raised else None
                what = (
                    "".join(traceback.format_exception(exc)).rstrip()
                    if exc is not None and not isinstance(exc, SystemExit)
                    else repr(exc)
                )
                said = "\n".join(records.lines) or "(nothing)"
                raise ServerDidNotStart(
                    f"test server did not start: its thread ended with {what}\n"
                    f"uvicorn logged:\n{said}"
                ) from exc
            if time.monotonic() > deadline:
                raise ServerDidNotStart(
                    f"test server did not start within {START_DEADLINE_S:g} s; uvicorn logged:\n"
                    + ("\n".join(records.lines) or "(nothing)")
                )
            time.sleep(0.02)
    finally:
        uvicorn_log.removeHandler(records)
    return thread


def stop_thread(server: uvicorn.Server, thread: threading.Thread) -> None:
    """Ask the server to finish and wait for its thread (up to 10 s)."""
    server.should_exit = True
    thread.join(timeout=10)
