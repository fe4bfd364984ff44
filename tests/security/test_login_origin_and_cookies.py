"""Sign-in from another site's page is refused (login CSRF), and cookies are Secure whenever the
request came in over HTTPS, behind a trusted reverse proxy too."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from helppoint.config import ConfigError, Settings
from helppoint.web.deps import SESSION_COOKIE
from tests.conftest import Database, LiveServer
from tests.faults.server_process import ServerProcess
from tests.ports import free_port

PASSWORD = "correct horse battery"


def _count(server: LiveServer) -> int:
    from sqlalchemy import text

    with server.database.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM login_sessions")).scalar_one())


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://127.0.0.1:1"},  # another port of the same host
        {"Origin": "null"},  # a sandboxed frame, or a page that hides where it is
        {"Referer": "http://evil.example/login-csrf.html"},  # an old browser: no Origin
    ],
)
def test_signing_in_from_another_origin_is_refused(
    live_server: LiveServer, headers: dict[str, str]
) -> None:
    live_server.add_operator("victim", PASSWORD)
    with httpx.Client(base_url=live_server.base_url, timeout=None) as http:
        form = http.post(
            "/login", data={"username": "victim", "password": PASSWORD}, headers=headers
        )
        assert form.status_code == 403 and form.json()["detail"] == "cross-site request refused"
        api = http.post(
            "/api/login", json={"username": "victim", "password": PASSWORD}, headers=headers
        )
        assert api.status_code == 403
        assert SESSION_COOKIE not in http.cookies
    assert _count(live_server) == 0


def test_our_own_pages_and_scripts_still_sign_in(live_server: LiveServer) -> None:
    live_server.add_operator("owner", PASSWORD)
    ours = {
        "Origin": live_server.base_url,
        "Referer": f"{live_server.base_url}/login",
    }
    for headers in (ours, {"Referer": f"{live_server.base_url}/login"}, {}):
        with httpx.Client(base_url=live_server.base_url, timeout=None) as http:
            answer = http.post(
                "/login", data={"username": "owner", "password": PASSWORD}, headers=headers
            )
            assert answer.status_code == 303, headers
            assert http.get("/api/me").status_code == 200


class _AttackerSite:
    """A page on another port of the same host with a sign-in form aimed at helppoint."""

    def __init__(self, target: str) -> None:
        page = (
            "<!doctype html><title>win a prize</title>"
            f'<form method="post" action="{target}/login">'
            '<input name="username" value="attacker"><input name="password" value="'
            f'{PASSWORD}"><button>Claim</button></form>'
        ).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args: object) -> None:
                pass

        # Bound to a port the OS picks now, not one noted earlier (tests/threaded_server.py).
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _AttackerSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.browser
def test_a_page_on_another_port_cannot_sign_a_browser_in(
    browser: Browser, live_server: LiveServer
) -> None:
    # Login CSRF: the victim's browser would be signed in as the attacker, and whatever the
    # victim then does (notes, a classification) would be done in the attacker's name.
    live_server.add_operator("attacker", PASSWORD)
    with _AttackerSite(live_server.base_url) as site:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{site.port}/")
            with page.expect_navigation():
                page.get_by_role("button", name="Claim").click()
            assert "cross-site request refused" in page.content()
            assert not [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
        finally:
            context.close()
    assert _count(live_server) == 0


def _cookie_flags(response: httpx.Response) -> dict[str, bool]:
    """Cookie name → whether it was set with the Secure flag."""
    flags = {}
    for header in response.headers.get_list("set-cookie"):
        name = header.split("=", 1)[0]
        flags[name] = "secure" in [part.strip().lower() for part in header.split(";")]
    return flags


def test_cookies_are_secure_when_a_trusted_proxy_says_https(live_server: LiveServer) -> None:
    live_server.add_operator("proxied", PASSWORD)
    body = {"username": "proxied", "password": PASSWORD}
    with httpx.Client(base_url=live_server.base_url, timeout=None) as http:
        behind_tls = http.post("/api/login", json=body, headers={"X-Forwarded-Proto": "https"})
        assert behind_tls.status_code == 200
        assert _cookie_flags(behind_tls) == {SESSION_COOKIE: True, "helppoint_csrf": True}
        assert behind_tls.headers["strict-transport-security"].startswith("max-age=")
    with httpx.Client(base_url=live_server.base_url, timeout=None) as http:
        plain = http.post("/api/login", json=body)
        assert _cookie_flags(plain) == {SESSION_COOKIE: False, "helppoint_csrf": False}


@pytest.fixture
def untrusting_server(
    sqlite_database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ServerProcess]:
    """`helppoint serve` that believes only a proxy at 192.0.2.1 (not this machine)."""
    monkeypatch.setenv("HELPPOINT_FORWARDED_ALLOW_IPS", "192.0.2.1")
    monkeypatch.setenv("HELPPOINT_SUPERVISION", "false")
    server = ServerProcess(sqlite_database.url, free_port(), tmp_path / "serve.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_serve_believes_only_the_configured_proxies(
    untrusting_server: ServerProcess, sqlite_database: Database
) -> None:
    from helppoint.domain.model import Role
    from helppoint.services.operators import add_operator

    add_operator(sqlite_database.uow(), "direct", PASSWORD, Role.OPERATOR)
    base = f"http://127.0.0.1:{untrusting_server.port}"
    with httpx.Client(base_url=base, timeout=None) as http:
        forged = http.post(
            "/api/login",
            json={"username": "direct", "password": PASSWORD},
            headers={"X-Forwarded-Proto": "https"},
        )
        assert forged.status_code == 200
        assert _cookie_flags(forged)[SESSION_COOKIE] is False  # 127.0.0.1 is not a proxy here


def test_the_proxy_setting_is_checked() -> None:
    with pytest.raises(ConfigError, match="forwarded_allow_ips"):
        Settings().with_values({"forwarded_allow_ips": "10.0.0.1,proxy.example"})
    assert Settings().with_values({"forwarded_allow_ips": "10.0.0.0/8, ::1"})
    assert Settings().with_values({"forwarded_allow_ips": "*"})
