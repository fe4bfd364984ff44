"""Real receivers for the outbox tests: an HTTP server and an SMTP server (aiosmtpd).

Both deduplicate on the idempotency key, as the issue asks of receivers: `seen` counts every
arrival per key, `processed` lists each key once, in order of first arrival.
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


class HttpReceiver:
    """A webhook receiver on 127.0.0.1 in a background thread.

    `fail_next(n, status)` answers the next n requests with an error; `hold_next()` makes the
    next request wait (the connection stays open, no answer) until `release()`.
    """

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.processed: list[str] = []
        self.bodies: dict[str, bytes] = {}
        self.content_types: dict[str, str] = {}
        self._lock = threading.Condition()
        self._failures: list[int] = []
        self._hold = False
        self.held = threading.Event()
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> HttpReceiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, count: int, status: int = 503) -> None:
        self._failures.extend([status] * count)

    def hold_next(self) -> None:
        self._hold = True

    def release(self) -> None:
        self._release.set()

    def wait_for(self, key: str, arrivals: int, timeout: float) -> bool:
        """Block until the key has arrived `arrivals` times (False on timeout)."""
        with self._lock:
            return self._lock.wait_for(lambda: self.seen[key] >= arrivals, timeout)

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        key = request.headers.get("Idempotency-Key", "")
        body = request.rfile.read(int(request.headers.get("Content-Length", "0")))
        with self._lock:
            self.seen[key] += 1
            self._lock.notify_all()
            status = self._failures.pop(0) if self._failures else 200
            hold, self._hold = self._hold, False
            if status == 200 and key not in self.bodies:
                # Accepted: processed once per key; a repeat of a key is acknowledged only.
                self.processed.append(key)
                self.bodies[key] = body
                self.content_types[key] = request.headers.get("Content-Type", "")
        if hold:
            self.held.set()
            self._release.wait()
            return  # never answer: the sender gave up (or was killed) meanwhile
        request.send_response(status)
        request.send_header("Content-Length", "0")
        request.end_headers()


class _SmtpHandler:
    def __init__(self, receiver: SmtpReceiver) -> None:
        self.receiver = receiver

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content)
        key = str(message.get("X-Helppoint-Idempotency-Key", ""))
        with self.receiver.lock:
            self.receiver.seen[key] += 1
            if key not in self.receiver.messages:
                self.receiver.processed.append(key)
                self.receiver.messages[key] = message
                self.receiver.recipients[key] = list(envelope.rcpt_tos)
        return "250 Message accepted for delivery"


class SmtpReceiver:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.processed: list[str] = []
        self.messages: dict[str, Message] = {}
        self.recipients: dict[str, list[str]] = {}
        self.lock = threading.Lock()
        with socket.socket() as sock:  # aiosmtpd needs a concrete port to check it is up
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.controller = Controller(_SmtpHandler(self), hostname="127.0.0.1", port=port)

    def start(self) -> SmtpReceiver:
        self.controller.start()
        return self

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def stop(self) -> None:
        self.controller.stop()
