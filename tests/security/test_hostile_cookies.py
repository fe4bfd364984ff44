"""Hostile Cookie headers: whatever signs a request in also makes it subject to CSRF checks.

The CSRF middleware once read cookies with `SimpleCookie`, which gives up at the first cookie it
cannot parse, while authentication reads them with Starlette's lenient parser: with
`Cookie: a[b]=1; helppoint_session=…` a request was signed in and yet, to the CSRF check and
the live feeds' origin check, carried no session.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from helppoint.domain.model import Role
from helppoint.web.deps import SESSION_COOKIE
from helppoint.web.security import (
    PENDING_COOKIE,
    csrf_proof_needed,
    csrf_token_for,
    request_cookies,
)
from tests.conftest import LiveServer

PASSWORD = "correct horse battery"
EVIL = "http://127.0.0.1:1"  # another port of the same host: same site, other origin

#: Cookie headers around a valid session token (T). Each is signed in by authentication.
HOSTILE = [
    "a[b]=1; helppoint_session=T",
    "a b=1; helppoint_session=T",
    'x="unterminated; helppoint_session=T',
    '"; helppoint_session=T',
    "=junk; helppoint_session=T",
    "junk; helppoint_session=T",
    "$Version=1; helppoint_session=T",
    "a=\\x; helppoint_session=T",
    "a=1;;; ;helppoint_session=T",
    "helppoint_session=wrong; helppoint_session=T",
    'helppoint_session="T"',
    "helppoint_session=T; a[b]=1",
    "a=b=c; helppoint_session=T; x[y",
]


def session_token(server: LiveServer, username: str, role: Role = Role.OPERATOR) -> str:
    server.add_operator(username, PASSWORD, role)
    with httpx.Client(base_url=server.base_url, timeout=None) as http:
        response = http.post("/api/login", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return str(http.cookies[SESSION_COOKIE])


def raw_client(server: LiveServer, cookie: str | list[str]) -> httpx.Client:
    """A client that sends exactly these Cookie headers (no cookie jar)."""
    headers = [("Cookie", c) for c in ([cookie] if isinstance(cookie, str) else cookie)]
    return httpx.Client(base_url=server.base_url, timeout=None, headers=headers)


def test_a_junk_cookie_beside_the_session_never_switches_csrf_off(
    live_server: LiveServer,
) -> None:
    for n, template in enumerate(HOSTILE):
        token = session_token(live_server, f"user{n}")
        with raw_client(live_server, template.replace("T", token)) as http:
            assert http.get("/api/me").status_code == 200, template  # signed in …
            refused = http.post("/api/logout")  # … so a state change needs the token
            assert refused.status_code == 403, template
            assert "CSRF" in refused.json()["detail"], template
            form = http.post("/logout", data={"next": "/"})
            assert form.status_code == 403, template
            foreign = http.post(
                "/api/logout", headers={"X-CSRF-Token": csrf_token_for(token), "Origin": EVIL}
            )
            assert foreign.status_code == 403, template
            assert http.get("/api/me").status_code == 200, template  # nothing changed
            ours = http.post("/api/logout", headers={"X-CSRF-Token": csrf_token_for(token)})
            assert ours.status_code == 204, template
            assert http.get("/api/me").status_code == 401, template


def test_the_session_in_a_second_cookie_header_needs_the_token_too(
    live_server: LiveServer,
) -> None:
    token = session_token(live_server, "twoheaders")
    with raw_client(live_server, ["a[b]=1", f"{SESSION_COOKIE}={token}"]) as http:
        assert http.get("/api/me").status_code == 200
        assert http.post("/api/logout").status_code == 403
        assert http.get("/api/me").status_code == 200


def test_an_admin_action_with_a_junk_cookie_and_no_token_changes_nothing(
    live_server: LiveServer,
) -> None:
    # What the review did from another port of the same host: revoke a unit.
    token = session_token(live_server, "root", Role.ADMIN)
    with raw_client(live_server, f"a[b]=1; {SESSION_COOKIE}={token}") as http:
        refused = http.post("/api/admin/units/HP-03/revoke", headers={"Origin": EVIL})
        assert refused.status_code == 403
    with live_server.database.uow() as uow:
        unit = uow.units.get("HP-03")
        assert unit is not None and unit.active


async def _feed_status(server: LiveServer, path: str, cookie: str, origin: str) -> str:
    headers = {"Cookie": cookie, "Origin": origin}
    url = f"ws://127.0.0.1:{server.port}{path}"
    try:
        async with connect(url, additional_headers=headers) as ws:
            message = await asyncio.wait_for(ws.recv(), 10)
            return "open" if '"snapshot"' in str(message) else f"sent {message!r}"
    except InvalidStatus as exc:
        return f"HTTP {exc.response.status_code}"


@pytest.mark.parametrize(
    ("path", "role"), [("/console/ws", Role.OPERATOR), ("/police/ws", Role.POLICE)]
)
def test_live_feeds_refuse_other_origins_whatever_the_cookie_header(
    live_server: LiveServer, path: str, role: Role
) -> None:
    token = session_token(live_server, "feeder", role)
    own = f"http://127.0.0.1:{live_server.port}"

    async def scenario() -> None:
        for template in HOSTILE:
            cookie = template.replace("T", token)
            assert await _feed_status(live_server, path, cookie, EVIL) == "HTTP 403", template
        assert await _feed_status(live_server, path, f"{SESSION_COOKIE}={token}", own) == "open"

    asyncio.run(scenario())


def _scope(cookie_headers: list[str], method: str = "POST") -> dict[str, object]:
    return {
        "type": "http",
        "method": method,
        "path": "/",
        "headers": [(b"cookie", c.encode("latin-1")) for c in cookie_headers],
    }


_COOKIE_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)


@settings(max_examples=300, deadline=None)
@given(
    before=st.lists(_COOKIE_TEXT, max_size=3),
    after=st.lists(_COOKIE_TEXT, max_size=3),
    name=st.sampled_from([SESSION_COOKIE, PENDING_COOKIE]),
)
def test_any_header_that_authenticates_is_subject_to_csrf(
    before: list[str], after: list[str], name: str
) -> None:
    header = "; ".join([*before, f"{name}=secret-token", *after])
    scope = _scope([header])
    seen_by_authentication = Request(scope).cookies  # what deps.current_operator reads
    assert request_cookies(scope) == seen_by_authentication
    if seen_by_authentication.get(name):
        assert csrf_proof_needed("POST", request_cookies(scope))
    assert not csrf_proof_needed("GET", request_cookies(scope))
