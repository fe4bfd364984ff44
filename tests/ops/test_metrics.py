"""/metrics: refused without the token, and what a press, a unit and the outbox show in it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from websockets.asyncio.client import connect

from helppoint.domain.model import Role
from tests.conftest import Database, LiveServer, http_client, start_server

from .scrape import TOKEN, scrape, until, value

PASSWORD = "correct horse battery"


@pytest.fixture
def metered(database: Database) -> Iterator[LiveServer]:
    """A server with metrics on, on SQLite and PostgreSQL."""
    server, stop = start_server(database, {"metrics_token": TOKEN})
    try:
        yield server
    finally:
        stop()


async def press(server: LiveServer, unit: str, seq: int = 1) -> None:
    async with connect(server.device_url) as ws:
        await ws.send(json.dumps({"type": "hello", "unit": unit, "key": server.key(unit)}))
        await ws.recv()
        now = datetime.now(UTC).isoformat()
        await ws.send(json.dumps({"type": "event", "seq": seq, "event": "activation", "time": now}))
        ack = json.loads(await ws.recv())
        assert ack["type"] == "ack" and ack["status"] == "stored"


def test_metrics_are_off_without_a_token(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.base_url}/metrics", timeout=None)
    assert response.status_code == 403
    assert "metrics_token" in response.text


def test_metrics_refuse_anyone_without_the_token(metered: LiveServer) -> None:
    url = f"{metered.base_url}/metrics"
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-wrong-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Bearer {TOKEN[:-1]}"},
        {"Authorization": "Bearer"},
        {"Authorization": b"Bearer \xff\xfe"},
    ):
        response = httpx.get(url, headers=headers, timeout=None)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == 'Bearer realm="metrics"'
        assert "helppoint_" not in response.text
    # Signed in as an admin is not enough: only the monitoring system's token reads them.
    metered.add_operator("root", PASSWORD, Role.ADMIN)
    admin = http_client(metered.base_url)
    assert admin.post("/api/login", json={"username": "root", "password": PASSWORD}).is_success
    assert admin.get("/metrics").status_code == 401


def test_a_press_shows_in_the_metrics(metered: LiveServer) -> None:
    before = scrape(metered.base_url)
    assert value(before, "helppoint_alarms_total", kind="activation") == 0
    assert value(before, "helppoint_units", status="unknown") == 8
    assert value(before, "helppoint_outbox_backlog") == 0
    assert value(before, "helppoint_server_processes") == 1
    assert value(before, "helppoint_sia_messages_total", answer="DUH") == 0

    asyncio.run(press(metered, "HP-03"))
    after = until(
        metered.base_url,
        lambda s: (
            value(s, "helppoint_press_to_console_seconds_count") == 1
            and value(s, "helppoint_alarms_total", kind="activation") == 1
        ),
    )
    assert value(after, "helppoint_press_to_stored_seconds_count") == 1
    # Pressed moments ago on this machine's clock: well inside the last bucket.
    assert value(after, "helppoint_press_to_stored_seconds_bucket", le="60.0") == 1
    assert value(after, "helppoint_standing_alarms", kind="activation", state="new") == 1
    assert value(after, "helppoint_oldest_waiting_alarm_seconds") >= 0
    assert value(after, "helppoint_alarm_ack_target_seconds") == 30
    assert value(after, "helppoint_units", status="up") == 1
    assert value(after, "helppoint_units", status="unknown") == 7
    assert value(after, "helppoint_events_stored_total") >= 1
    assert value(after, "helppoint_ingest_writer_restarts_total") == 0
    # The press's batch, answered by the writer: within the last bucket, like the press.
    assert value(after, "helppoint_ingest_batch_seconds_count") >= 1
    assert value(after, "helppoint_ingest_batch_seconds_bucket", le="60.0") >= 1
    # Where its time went, measured by the writer process on the machine's one clock.
    for part in ("to_writer", "storing", "back"):
        assert value(after, "helppoint_ingest_batch_part_seconds_count", part=part) >= 1
    assert "helppoint_gc_pause_seconds_bucket" in after

    # A second press of the same unit joins its incident: no second alarm.
    asyncio.run(press(metered, "HP-03", seq=2))
    again = until(metered.base_url, lambda s: value(s, "helppoint_events_stored_total") >= 2)
    assert value(again, "helppoint_alarms_total", kind="activation") == 1
    assert value(again, "helppoint_press_to_console_seconds_count") == 1


def test_links_are_counted_while_open(metered: LiveServer) -> None:
    async def linked() -> None:
        async with connect(metered.device_url) as ws:
            await ws.send(
                json.dumps({"type": "hello", "unit": "HP-01", "key": metered.key("HP-01")})
            )
            await ws.recv()
            samples = await asyncio.to_thread(scrape, metered.base_url)
            assert value(samples, "helppoint_websocket_links", kind="unit") == 1

    asyncio.run(linked())
    until(metered.base_url, lambda s: value(s, "helppoint_websocket_links", kind="unit") == 0)
