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
from helppoint.gateway.broker import Broker
from helppoint.gateway.writer_loop import MAX_GROUP
from helppoint.web.feeds import BACKLOG_TURN, feed_text, relay
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


class _Page:
    """What relay needs of a WebSocket: the texts it sends, in order."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def send_text(self, text: str) -> None:
        self.texts.append(text)

    def messages(self) -> list[dict[str, Any]]:
        found = []
        for text in self.texts:
            frame = json.loads(text)
            found.extend(frame["messages"] if frame["type"] == "batch" else [frame])
        return found


@pytest.mark.parametrize("batch", [False, True])
async def test_a_flood_group_is_relayed_in_order_without_a_resync_and_the_loop_gets_turns(
    batch: bool,
) -> None:
    # The writer publishes a group's messages together (up to MAX_GROUP events, an incident's
    # and a unit's message each): a console must not be told to reload everything for that,
    # and relaying the backlog must not hold the event loop until it is all sent. A page that
    # asked for batches gets them BACKLOG_TURN to a frame; every message either way, in order.
    broker = Broker()
    broker.bind(asyncio.get_running_loop())
    total = 2 * MAX_GROUP
    expected = [n for n in range(total) if n % 7 != 3]  # the others make no frame
    page = _Page()
    turns = 0

    async def frame(topic: str, message: dict[str, Any]) -> dict[str, Any] | None:
        return None if message["n"] % 7 == 3 else {"type": topic, "n": message["n"]}

    async def resync() -> None:
        raise AssertionError("a group of the writer's made the feed resync")

    async def other_work() -> None:
        nonlocal turns
        while len(page.messages()) < len(expected):
            turns += 1
            await asyncio.sleep(0)

    async with broker.subscribe() as subscription:
        for n in range(total):
            broker.publish("units", {"n": n})  # type: ignore[typeddict-item]
        assert not subscription.overflowed
        browser = asyncio.create_task(asyncio.Event().wait())  # a page that sends nothing
        feed = asyncio.create_task(
            relay(page, subscription, browser, frame, resync, 60.0, batch)  # type: ignore[arg-type]
        )
        await asyncio.wait_for(other_work(), 30)
        browser.cancel()
        await asyncio.wait_for(feed, 10)
    assert [m["n"] for m in page.messages()] == expected
    assert turns >= total // BACKLOG_TURN - 1
    if batch:
        assert len(page.texts) <= total // BACKLOG_TURN + 1
        assert all(len(json.loads(t).get("messages", [1])) <= BACKLOG_TURN for t in page.texts)
    else:
        assert len(page.texts) == len(page.messages())


async def test_a_message_that_finds_nothing_queued_goes_alone_and_at_once() -> None:
    broker = Broker()
    broker.bind(asyncio.get_running_loop())
    page = _Page()

    async def frame(topic: str, message: dict[str, Any]) -> dict[str, Any]:
        return {"type": topic, "n": message["n"]}

    async def resync() -> None:
        raise AssertionError("no resync")

    async with broker.subscribe() as subscription:
        browser = asyncio.create_task(asyncio.Event().wait())
        feed = asyncio.create_task(
            relay(page, subscription, browser, frame, resync, 60.0, True)  # type: ignore[arg-type]
        )
        for n in range(3):
            broker.publish("units", {"n": n})  # type: ignore[typeddict-item]
            for _ in range(10):  # the feed's turns, and a few more: nothing else runs
                await asyncio.sleep(0)
            assert len(page.texts) == n + 1
        browser.cancel()
        await asyncio.wait_for(feed, 10)
    assert [json.loads(t) for t in page.texts] == [{"type": "units", "n": n} for n in range(3)]


def test_a_frame_reads_back_as_the_standard_librarys_and_a_lone_surrogate_is_still_sent() -> None:
    frame = {
        "type": "incident",
        "incident": {"id": 7, "note": "café ☎ 𝄞", "latitude": 52.1, "mark": None, "x": [1, {}]},
    }
    assert json.loads(feed_text(frame)) == json.loads(json.dumps(frame))
    odd = {"type": "incident", "incident": {"note": "\ud800 left by a browser"}}
    assert json.loads(feed_text(odd)) == json.loads(json.dumps(odd))
