"""`serve --workers 2`: a scrape reaches either process and shows both (multiprocess mode),
an alarm counted once; and `log_format = "json"` writes one JSON object per line."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from websockets.asyncio.client import connect

from helppoint.services.units import ensure_zone, provision_unit
from helppoint.store.database import make_engine, make_session_factory
from helppoint.store.migrate import upgrade
from helppoint.store.uow import UnitOfWork
from tests.conftest import PG_ADMIN_URL, require_postgres
from tests.faults.server_process import ServerProcess
from tests.ports import free_port

from .scrape import TOKEN, scrape, until, value


@pytest.fixture
def schema_url() -> Iterator[str]:
    require_postgres()
    schema = f"m_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_ADMIN_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in PG_ADMIN_URL else "?"
    try:
        yield f"{PG_ADMIN_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def provision(url: str) -> str:
    engine = make_engine(url)
    upgrade(engine)
    uow = UnitOfWork(make_session_factory(engine))
    with uow:
        ensure_zone(uow, "z", "Zone")
        uow.flush()
        key = provision_unit(uow, "HP-01", "HP-01", "z", 52.2, -0.9).key
        uow.commit()
    engine.dispose()
    return key


async def press(port: int, key: str) -> None:
    async with connect(f"ws://127.0.0.1:{port}/device/v1") as ws:
        await ws.send(json.dumps({"type": "hello", "unit": "HP-01", "key": key}))
        await ws.recv()
        event = {"type": "event", "seq": 1, "event": "activation", "time": "2026-11-25T23:00:00Z"}
        await ws.send(json.dumps(event))
        assert json.loads(await ws.recv())["type"] == "ack"


@pytest.mark.postgres
@pytest.mark.slow
def test_two_worker_processes_answer_one_scrape_together(
    schema_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = provision(schema_url)
    monkeypatch.setenv("HELPPOINT_METRICS_TOKEN", TOKEN)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    server = ServerProcess(schema_url, free_port(), tmp_path / "serve.log", ["--workers", "2"])
    server.start()
    port = server.port  # (another, had the one noted been taken)
    try:
        base = f"http://127.0.0.1:{port}"
        until(base, lambda s: value(s, "helppoint_server_processes") == 2, within=120)
        asyncio.run(press(port, key))
        until(base, lambda s: value(s, "helppoint_alarms_total", kind="activation") == 1)
        # Whichever process answers, both are counted and the alarm is counted once.
        for _ in range(10):
            samples = scrape(base)
            assert value(samples, "helppoint_server_processes") == 2
            assert value(samples, "helppoint_alarms_total", kind="activation") == 1
            assert value(samples, "helppoint_standing_alarms", kind="activation") == 1
    finally:
        server.stop()


def test_json_log_lines_name_the_unit(
    sqlite_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{sqlite_path}"
    provision(url)
    monkeypatch.setenv("HELPPOINT_LOG_FORMAT", "json")
    log_path = tmp_path / "serve.log"
    server = ServerProcess(url, free_port(), log_path)
    server.start()
    port = server.port  # (another, had the one noted been taken)
    try:

        async def wrong_key() -> None:
            async with connect(f"ws://127.0.0.1:{port}/device/v1") as ws:
                await ws.send(json.dumps({"type": "hello", "unit": "HP-01", "key": "nope"}))
                with pytest.raises(Exception):  # noqa: B017 - closed by the server
                    await ws.recv()

        asyncio.run(wrong_key())
    finally:
        server.stop()
    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    entries = []
    for line in lines:
        if line.startswith("helppoint "):  # the banner printed to stdout before logging
            continue
        entries.append(json.loads(line))  # every log line is one JSON object
    refused = [e for e in entries if "authentication failed" in e["message"]]
    assert refused, lines
    assert refused[0]["unit_id"] == "HP-01"
    assert refused[0]["level"] == "warning" and refused[0]["logger"].startswith("helppoint.")


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "helppoint.sqlite"
