"""CSRF protection for cookie-authenticated requests, and the security headers."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from helppoint.config import Settings
from helppoint.web.app import create_app
from helppoint.web.deps import SESSION_COOKIE
from helppoint.web.security import CSRF_COOKIE, content_security_policy, csrf_token_for, tile_source
from tests.conftest import Database, LiveServer

PASSWORD = "correct horse battery"


def signed_in(server: LiveServer, username: str = "cora") -> httpx.Client:
    """A client holding a session cookie that does NOT add the CSRF header by itself."""
    server.add_operator(username, PASSWORD)
    http = httpx.Client(base_url=server.base_url, timeout=None)
    assert http.post("/api/login", json={"username": username, "password": PASSWORD}).is_success
    return http


def test_signing_in_hands_out_the_csrf_cookie(live_server: LiveServer) -> None:
    http = signed_in(live_server)
    assert http.cookies[CSRF_COOKIE] == csrf_token_for(http.cookies[SESSION_COOKIE])


def test_a_cookie_request_without_the_token_is_refused_and_changes_nothing(
    live_server: LiveServer,
) -> None:
    http = signed_in(live_server)
    refused = http.post("/api/logout")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    wrong = http.post("/api/logout", headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403
    assert http.get("/api/me").status_code == 200  # still signed in
    token = http.cookies[CSRF_COOKIE]
    assert http.post("/api/logout", headers={"X-CSRF-Token": token}).status_code == 204
    assert http.get("/api/me").status_code == 401


def test_another_origin_is_refused_even_with_the_token(live_server: LiveServer) -> None:
    http = signed_in(live_server)
    headers = {"X-CSRF-Token": http.cookies[CSRF_COOKIE], "Origin": "https://evil.example"}
    assert http.post("/api/logout", headers=headers).status_code == 403
    assert http.get("/api/me").status_code == 200


def test_html_forms_carry_the_token_in_a_field(live_server: LiveServer) -> None:
    http = signed_in(live_server)
    page = http.get("/history")
    token = http.cookies[CSRF_COOKIE]
    assert f'name="csrf_token" value="{token}"' in page.text
    assert http.post("/logout", data={}).status_code == 403
    assert http.post("/logout", data={"csrf_token": "nope"}).status_code == 403
    assert http.get("/api/me").status_code == 200
    out = http.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert http.get("/api/me").status_code == 401


def test_requests_without_a_session_cookie_need_no_token(live_server: LiveServer) -> None:
    http = httpx.Client(base_url=live_server.base_url, timeout=None)
    # unit endpoints authenticate with the unit key, not a cookie: refused by key, not CSRF
    still = http.post("/api/units/HP-01/stills", content=b"x")
    assert still.status_code in (401, 403, 422)
    assert "CSRF" not in still.text
    assert http.post("/api/login", json={"username": "x", "password": "y"}).status_code == 401


async def _console_feed_status(server: LiveServer, token: str, origin: str) -> str:
    headers = {"Cookie": f"{SESSION_COOKIE}={token}", "Origin": origin}
    try:
        async with connect(
            f"ws://127.0.0.1:{server.port}/console/ws", additional_headers=headers
        ) as ws:
            await asyncio.wait_for(ws.recv(), 10)
            return "open"
    except InvalidStatus as exc:
        return f"HTTP {exc.response.status_code}"


@pytest.mark.asyncio
async def test_the_console_feed_refuses_other_origins(live_server: LiveServer) -> None:
    http = await asyncio.to_thread(signed_in, live_server)
    token = http.cookies[SESSION_COOKIE]
    assert await _console_feed_status(live_server, token, "http://evil.example") == "HTTP 403"
    own = f"http://127.0.0.1:{live_server.port}"
    assert await _console_feed_status(live_server, token, own) == "open"


def test_every_response_has_the_security_headers(live_server: LiveServer) -> None:
    http = httpx.Client(base_url=live_server.base_url, timeout=None)
    for path in ("/login", "/static/app.css", "/api/me", "/help-points", "/nowhere"):
        headers = http.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp, path
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, path
        assert "frame-ancestors 'none'" in csp
        assert "media-src 'self' blob:" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert "strict-transport-security" not in headers  # plain HTTP


def test_only_the_api_documentation_pages_may_load_swagger_from_its_cdn(
    live_server: LiveServer,
) -> None:
    http = httpx.Client(base_url=live_server.base_url, timeout=None)
    for path in ("/docs", "/redoc"):
        response = http.get(path)
        assert response.status_code == 200
        csp = response.headers["content-security-policy"]
        assert "https://cdn.jsdelivr.net" in csp and "frame-ancestors 'none'" in csp, path
    for path in ("/docs/../login", "/login", "/openapi.json"):
        csp = http.get(path).headers["content-security-policy"]
        assert "cdn.jsdelivr.net" not in csp and "unsafe-inline" not in csp, path


def test_hsts_over_https_only_and_configurable(sqlite_database: Database) -> None:
    async def fetch(settings: Settings, base: str) -> httpx.Headers:
        app = create_app(settings, sqlite_database.engine)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base, timeout=None) as client:
            return (await client.get("/login")).headers

    on = Settings().with_values({"database_url": sqlite_database.url, "hsts_seconds": 600})
    off = on.with_values({"hsts_seconds": 0})
    assert asyncio.run(fetch(on, "https://cctv.example"))["strict-transport-security"] == (
        "max-age=600"
    )
    assert "strict-transport-security" not in asyncio.run(fetch(off, "https://cctv.example"))
    assert "strict-transport-security" not in asyncio.run(fetch(on, "http://cctv.example"))
    https_csp = asyncio.run(fetch(on, "https://cctv.example"))["content-security-policy"]
    assert "connect-src 'self' wss://cctv.example" in https_csp


def test_map_tiles_are_the_only_foreign_images() -> None:
    assert tile_source("https://{s}.tile.example.org/{z}/{x}/{y}.png") == (
        "https://*.tile.example.org"
    )
    assert tile_source("not a url") == ""
    csp = content_security_policy("h:1", False, tile_source("https://t.example/{z}.png"))
    assert "img-src 'self' data: blob: https://t.example;" in csp
