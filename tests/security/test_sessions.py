"""Session expiry: idle timeout and absolute lifetime, on HTTP and on the console feed."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from helppoint.domain.model import LoginSession, Role
from helppoint.services import operators as operator_service
from helppoint.services.clock import utcnow
from helppoint.services.operators import add_operator
from helppoint.web.deps import SESSION_COOKIE
from tests.conftest import Database, LiveServer, http_client

PASSWORD = "correct horse battery"


def _session(database: Database, idle: timedelta | None = timedelta(minutes=10)) -> str:
    add_operator(database.uow(), "sam", PASSWORD, Role.OPERATOR)
    return operator_service.login(
        database.uow(), "sam", PASSWORD, timedelta(hours=8), "10.0.0.1", idle=idle
    ).token


def _shift(database: Database, token: str, **changes: timedelta) -> None:
    """Move the session's times into the past, as if time had passed."""
    with database.uow() as uow:
        session = uow.logins.get(operator_service._token_hash(token))
        assert isinstance(session, LoginSession)
        for name, ago in changes.items():
            setattr(session, name, utcnow() - ago)
        uow.commit()


def test_a_fresh_session_is_valid(database: Database) -> None:
    token = _session(database)
    operator = operator_service.operator_for_session(database.uow(), token)
    assert operator is not None and operator.username == "sam"


def test_an_idle_session_ends(database: Database) -> None:
    token = _session(database)
    _shift(database, token, last_seen_at=timedelta(minutes=11))
    assert operator_service.operator_for_session(database.uow(), token) is None


def test_use_keeps_a_session_alive(database: Database) -> None:
    token = _session(database)
    _shift(database, token, last_seen_at=timedelta(minutes=9))
    assert operator_service.operator_for_session(database.uow(), token) is not None
    with database.uow() as uow:
        session = uow.logins.get(operator_service._token_hash(token))
        assert session is not None and session.last_seen_at is not None
        assert utcnow() - session.last_seen_at < timedelta(minutes=1)


def test_the_absolute_lifetime_ends_a_busy_session(database: Database) -> None:
    token = _session(database)
    _shift(database, token, expires_at=timedelta(seconds=1))
    assert operator_service.operator_for_session(database.uow(), token) is None


def test_without_an_idle_limit_only_the_lifetime_counts(database: Database) -> None:
    token = _session(database, idle=None)
    _shift(database, token, last_seen_at=timedelta(days=3))
    assert operator_service.operator_for_session(database.uow(), token) is not None


def _signed_in(server: LiveServer, role: Role = Role.OPERATOR) -> str:
    server.add_operator("ola", PASSWORD, role)
    http = http_client(server.base_url, timeout=None)
    assert http.post("/api/login", json={"username": "ola", "password": PASSWORD}).is_success
    token = http.cookies[SESSION_COOKIE]
    assert http.get("/api/me").status_code == 200
    return token


def test_an_expired_session_is_refused_over_http(live_server: LiveServer) -> None:
    token = _signed_in(live_server)
    _shift(live_server.database, token, last_seen_at=timedelta(hours=2))
    http = http_client(live_server.base_url, timeout=None, cookies={SESSION_COOKIE: token})
    answer = http.get("/api/me")
    assert answer.status_code == 401


async def _feed_close_code(
    server: LiveServer, token: str, expire: bool, feed: str = "/console/ws"
) -> int | None:
    headers = {"Cookie": f"{SESSION_COOKIE}={token}"}
    async with connect(f"ws://127.0.0.1:{server.port}{feed}", additional_headers=headers) as ws:
        try:
            first = await asyncio.wait_for(ws.recv(), 10)
            assert '"snapshot"' in str(first)
            if expire:
                await asyncio.to_thread(
                    _shift, server.database, token, expires_at=timedelta(seconds=1)
                )
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


@pytest.mark.asyncio
async def test_an_expired_session_cannot_open_the_console_feed(live_server: LiveServer) -> None:
    token = await asyncio.to_thread(_signed_in, live_server)
    await asyncio.to_thread(_shift, live_server.database, token, expires_at=timedelta(seconds=1))
    headers = {"Cookie": f"{SESSION_COOKIE}={token}"}
    url = f"ws://127.0.0.1:{live_server.port}/console/ws"
    async with connect(url, additional_headers=headers) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


@pytest.mark.asyncio
async def test_an_open_console_feed_closes_when_its_session_ends(live_server: LiveServer) -> None:
    live_server.app.state.session_recheck_seconds = 0.2
    token = await asyncio.to_thread(_signed_in, live_server)
    assert await _feed_close_code(live_server, token, expire=True) == 4401


@pytest.mark.asyncio
async def test_the_police_feed_closes_when_its_session_ends(live_server: LiveServer) -> None:
    live_server.app.state.session_recheck_seconds = 0.2
    token = await asyncio.to_thread(_signed_in, live_server, Role.POLICE)
    assert await _feed_close_code(live_server, token, expire=True, feed="/police/ws") == 4401
