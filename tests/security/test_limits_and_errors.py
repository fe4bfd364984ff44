"""Request body limits (413 while the body streams in) and the security headers on every error
response: 404, 405, 413, 422, 500, HTML and JSON."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from helppoint.config import ConfigError, Settings
from helppoint.domain.model import Role
from helppoint.services.prompts import MAX_PROMPT_BYTES
from helppoint.web.app import create_app
from helppoint.web.deps import SESSION_COOKIE
from tests.conftest import Database, LiveServer, http_client

PASSWORD = "correct horse battery"
CHUNK = 64 * 1024
DEFAULT_LIMIT = Settings().max_body_bytes
#: Every response of the app carries these (docs/security.md).
SECURITY_HEADERS = (
    "content-security-policy",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "cross-origin-opener-policy",
)


def app_client(database: Database, **settings: Any) -> httpx.AsyncClient:
    values = {"database_url": database.url, **settings}
    app = create_app(Settings().with_values(values), database.engine)

    @app.get("/test-boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://cctv.example", timeout=None)


class CountingBody:
    """A request body sent in 64 KiB chunks; counts how many the server asked for."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent * CHUNK < self.total:
            self.sent += 1
            yield b"x" * CHUNK


def test_a_16_mib_anonymous_sign_in_body_is_cut_off_while_it_streams_in(
    sqlite_database: Database,
) -> None:
    async def scenario() -> tuple[httpx.Response, int]:
        body = CountingBody(16 * 1024 * 1024)
        async with app_client(sqlite_database) as http:
            answer = await http.post(
                "/api/login", content=body, headers={"content-type": "application/json"}
            )
        return answer, body.sent

    answer, chunks = asyncio.run(scenario())
    assert answer.status_code == 413
    assert answer.json()["detail"] == (
        f"the request body is larger than {DEFAULT_LIMIT} bytes, the most this endpoint accepts"
    )
    assert chunks <= DEFAULT_LIMIT // CHUNK + 2  # read no further than the limit
    for name in SECURITY_HEADERS:
        assert name in answer.headers, name


def test_a_body_announced_as_too_large_is_refused_unread(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.base_url, timeout=None) as http:
        answer = http.post(
            "/api/login",
            content=b"{" + b" " * (1024 * 1024),
            headers={"content-type": "application/json"},
        )
    assert answer.status_code == 413
    assert str(DEFAULT_LIMIT) in answer.json()["detail"]
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_the_limit_is_a_setting(sqlite_database: Database) -> None:
    with pytest.raises(ConfigError, match="max_body_bytes"):
        Settings().with_values({"max_body_bytes": 100})

    async def scenario() -> tuple[int, int]:
        async with app_client(sqlite_database, max_body_bytes=20_000) as http:
            small = await http.post("/api/login", json={"username": "x", "password": "y"})
            large = await http.post("/api/login", json={"username": "x", "password": "y" * 30_000})
        return small.status_code, large.status_code

    assert asyncio.run(scenario()) == (401, 413)


def _signed_in(server: LiveServer, username: str, role: Role) -> httpx.Client:
    server.add_operator(username, PASSWORD, role)
    http = http_client(server.base_url, timeout=None)
    assert http.post("/api/login", json={"username": username, "password": PASSWORD}).is_success
    return http


def test_uploads_accept_larger_bodies_than_the_rest(live_server: LiveServer) -> None:
    admin = _signed_in(live_server, "ada", Role.ADMIN)
    big = b"RIFF" + b"\0" * (2 * DEFAULT_LIMIT)  # past the default: read, and judged as audio
    upload = admin.put("/api/admin/prompts/big_one", params={"title": "Big"}, content=big)
    assert upload.status_code == 400 and "audio" in upload.json()["detail"]
    too_big = admin.put(
        "/api/admin/prompts/big_one",
        params={"title": "Big"},
        content=b"\0" * (MAX_PROMPT_BYTES + 1),
    )
    assert too_big.status_code == 413 and str(MAX_PROMPT_BYTES) in too_big.json()["detail"]
    # A plan file of 300 KiB is past the default limit too, and is checked (and refused for
    # its size by the plan reader, which says so), not cut off.
    plan = admin.post("/api/plans/check", json={"source": "#" * (300 * 1024)})
    assert plan.status_code == 422, plan.text
    # Everything else keeps the default limit.
    note = admin.post("/api/incidents/1/notes", json={"text": "x" * (2 * DEFAULT_LIMIT)})
    assert note.status_code == 413


def test_a_form_too_large_to_check_for_its_csrf_token_is_refused_as_such(
    live_server: LiveServer,
) -> None:
    signed_in = _signed_in(live_server, "formfiller", Role.OPERATOR)
    # As a browser posts an HTML form: the token in a field, no header.
    with httpx.Client(
        base_url=live_server.base_url, cookies=signed_in.cookies, timeout=None
    ) as http:
        form = {"csrf_token": signed_in.cookies["helppoint_csrf"], "pad": "x" * (100 * 1024)}
        answer = http.post("/logout", data=form)
        assert answer.status_code == 413 and "form" in answer.json()["detail"]
        assert http.get("/api/me").status_code == 200


def _assert_secured(response: httpx.Response, what: str) -> None:
    for name in SECURITY_HEADERS:
        assert name in response.headers, f"{what}: no {name}"
    assert "script-src 'self'" in response.headers["content-security-policy"], what


def test_every_error_response_carries_the_security_headers(sqlite_database: Database) -> None:
    async def scenario() -> Iterator[tuple[str, httpx.Response]]:
        answers: list[tuple[str, httpx.Response]] = []
        async with app_client(sqlite_database) as http:
            answers.append(("200 page", await http.get("/login")))
            answers.append(("404 JSON", await http.get("/api/nowhere")))
            answers.append(("404 static", await http.get("/static/nowhere.js")))
            answers.append(("405", await http.get("/api/login")))
            answers.append(("422", await http.post("/api/login", json={})))
            answers.append(("400 JSON", await http.post("/api/login", content=b"{")))
            answers.append(("401 JSON", await http.get("/api/me")))
            answers.append(("401 HTML", await http.post("/login", data={"username": "x"})))
            answers.append(
                (
                    "403 CSRF",
                    await http.post("/api/logout", headers={"Cookie": f"{SESSION_COOKIE}=t"}),
                )
            )
            big = b"x" * (DEFAULT_LIMIT + 1)
            answers.append(("413", await http.post("/api/login", content=big)))
            answers.append(("500", await http.get("/test-boom")))
        return iter(answers)

    answers = list(asyncio.run(scenario()))
    statuses = {what: response.status_code for what, response in answers}
    assert statuses == {
        "200 page": 200,
        "404 JSON": 404,
        "404 static": 404,
        "405": 405,
        "422": 422,
        "400 JSON": 422,
        "401 JSON": 401,
        "401 HTML": 401,
        "403 CSRF": 403,
        "413": 413,
        "500": 500,
    }
    for what, response in answers:
        _assert_secured(response, what)


def test_a_refused_feed_handshake_carries_the_security_headers(live_server: LiveServer) -> None:
    http = _signed_in(live_server, "watcher", Role.OPERATOR)
    token = http.cookies[SESSION_COOKIE]

    async def handshake() -> httpx.Headers:
        headers = {"Cookie": f"{SESSION_COOKIE}={token}", "Origin": "http://evil.example"}
        url = f"ws://127.0.0.1:{live_server.port}/console/ws"
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, additional_headers=headers):
                pass
        response = refused.value.response
        assert response.status_code == 403
        assert json.loads(response.body)["detail"] == "cross-site request refused"
        return httpx.Headers(list(response.headers.raw_items()))

    _assert_secured(httpx.Response(403, headers=asyncio.run(handshake())), "WebSocket 403")
