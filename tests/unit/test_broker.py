"""The in-process broker: topic filters, and falling behind means resync (not silence)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from helppoint.gateway.broker import Broker
from helppoint.topics import Topic


async def test_a_subscriber_gets_only_its_topics_and_every_resync() -> None:
    broker = Broker()
    broker.bind(asyncio.get_running_loop())
    async with broker.subscribe(["incidents"]) as only, broker.subscribe() as everything:
        broker.publish("units", {"id": "HP-01", "connected": True})
        broker.publish("incidents", {"id": 1})
        broker.resync_all()
        await asyncio.sleep(0)
        assert await only.get() == ("incidents", {"id": 1})
        assert await only.get() == (Topic.RESYNC, {})
        assert only.queue.empty()
        assert [await everything.get() for _ in range(3)] == [
            ("units", {"id": "HP-01", "connected": True}),
            ("incidents", {"id": 1}),
            (Topic.RESYNC, {}),
        ]


async def test_a_full_queue_flags_a_resync_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    broker = Broker(queue_size=3)
    broker.bind(asyncio.get_running_loop())
    async with broker.subscribe() as slow:
        with caplog.at_level(logging.WARNING, logger="helppoint.gateway.broker"):
            for n in range(50):
                broker.publish("units", {"n": n})
        assert slow.overflowed and slow.queue.qsize() == 3
        assert len([r for r in caplog.records if "fell behind" in r.message]) == 1
