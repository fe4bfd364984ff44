"""A stand-in for a SIP intercom's HTTP API (the relay switched by an HTTP GET), as a test
double of the hardware: it checks HTTP digest (or basic) authentication itself, and keeps the
requests it accepted.

The digest check follows RFC 2617 with qop=auth, written out here: it is the test's own
judge of what the client sent, not code under test.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REALM = "intercom"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class IntercomHttpApi:
    """An HTTP server on 127.0.0.1 that switches a "relay" on GETs with the right account."""

    def __init__(self, user: str, password: str, scheme: str = "digest") -> None:
        self.user, self.password, self.scheme = user, password, scheme
        self.accepted: list[str] = []  # the paths (with query) of accepted requests
        self.refused = 0
        self._nonce = secrets.token_hex(8)
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if api.authorized(self.headers.get("Authorization", ""), self.path):
                    api.accepted.append(self.path)
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"OK")
                    return
                api.refused += 1
                self.send_response(401)
                self.send_header("WWW-Authenticate", api.challenge())
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def challenge(self) -> str:
        if self.scheme == "basic":
            return f'Basic realm="{REALM}"'
        return f'Digest realm="{REALM}", nonce="{self._nonce}", qop="auth", algorithm=MD5'

    def authorized(self, header: str, path: str) -> bool:
        if self.scheme == "basic":
            expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            return header == f"Basic {expected}"
        if not header.startswith("Digest "):
            return False
        fields = dict(re.findall(r'(\w+)="?([^",]*)"?', header[len("Digest ") :]))
        if fields.get("username") != self.user or fields.get("nonce") != self._nonce:
            return False
        if fields.get("uri") != path:
            return False
        ha1 = _md5(f"{self.user}:{REALM}:{self.password}")
        ha2 = _md5(f"GET:{path}")
        expected = _md5(f"{ha1}:{self._nonce}:{fields.get('nc')}:{fields.get('cnonce')}:auth:{ha2}")
        return fields.get("response") == expected

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
