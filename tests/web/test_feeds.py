"""Quiet browser feeds get keepalives, so a page can tell a quiet server from a lost one."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from websockets.asyncio.client import connect

from helppoint.config import ConfigError, Settings
from helppoint.domain.model import Role
from tests.conftest import http_client

PASSWORD = "correct horse battery"


def signed_in(server: Any, username: str, role: Role) -> str:
    server.add_operator(username, PASSWORD, role)
    with http_client(server.base_url) as http:
        response = http.post("/api/login", json={"username": username, "password": PASSWORD})
        response.raise_for_status()
        return str(http.cookies.get("helppoint_session"))


async def first_messages(server: Any, feed: str, token: str, count: int) -> list[dict[str, Any]]:
    url = server.base_url.replace("http", "ws") + feed
    async with connect(url, additional_headers={"Cookie": f"helppoint_session={token}"}) as ws:
        return [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(count)]


@pytest.mark.parametrize(
    ("feed", "role"), [("/console/ws", Role.OPERATOR), ("/police/ws", Role.POLICE)]
)
def test_a_quiet_feed_sends_keepalives(
    server_factory: Callable[..., Any], feed: str, role: Role
) -> None:
    server = server_factory(feed_keepalive=1.0, supervision=False)
    token = signed_in(server, "keeper", role)
    started = time.monotonic()
    snapshot, first, second = asyncio.run(first_messages(server, feed, token, 3))
    assert snapshot["type"] == "snapshot" and snapshot["keepalive_seconds"] == 1.0
    assert first["type"] == second["type"] == "keepalive" and "server_time" in first
    assert time.monotonic() - started >= 2.0  # one per quiet second, not a stream


def test_the_keepalive_setting_is_checked() -> None:
    with pytest.raises(ConfigError, match="feed_keepalive"):
        Settings().with_values({"feed_keepalive": 0.2})
    assert Settings().with_values({"feed_keepalive": "30"}).feed_keepalive == 30.0
