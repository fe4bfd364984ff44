"""Two `helppoint serve` processes on one PostgreSQL database (docs/deployment.md).

An alarm arriving at process 1 is shown on a console connected to process 2; a command sent
through process 2 reaches a unit linked to process 1; each periodic job runs in exactly one
process, and moves to the survivor when its process is killed.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from websockets.asyncio.client import connect

from helppoint.domain.model import Role
from helppoint.services.operators import add_operator
from helppoint.services.units import ensure_zone, provision_unit
from helppoint.store.database import make_engine, make_session_factory
from helppoint.store.migrate import upgrade
from helppoint.store.uow import UnitOfWork
from tests.conftest import PG_ADMIN_URL, http_client, require_postgres
from tests.faults.server_process import ServerProcess
from tests.ports import free_port
from tests.waiting import eventually_sync

pytestmark = pytest.mark.postgres

PASSWORD = "correct horse battery"
JOBS = {"supervision", "outbox", "sla"}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[list[ServerProcess], dict[str, str]]]:
    require_postgres()
    schema = f"c_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_ADMIN_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in PG_ADMIN_URL else "?"
    url = f"{PG_ADMIN_URL}{separator}options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)
    keys: dict[str, str] = {}
    uow = UnitOfWork(make_session_factory(engine))
    with uow:
        ensure_zone(uow, "z", "Zone")
        uow.flush()
        for unit_id in ("HP-01", "HP-02"):
            keys[unit_id] = provision_unit(uow, unit_id, unit_id, "z", 52.2, -0.9).key
        uow.commit()
    add_operator(UnitOfWork(make_session_factory(engine)), "alice", PASSWORD, Role.SUPERVISOR)
    servers = [ServerProcess(url, free_port(), tmp_path / f"server{n}.log") for n in (1, 2)]
    try:
        for server in servers:
            server.start()
        yield servers, keys
    finally:
        for server in servers:
            server.stop()
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def base(server: ServerProcess) -> str:
    return f"http://127.0.0.1:{server.port}"


def signed_in(server: ServerProcess) -> httpx.Client:
    http = http_client(base(server), timeout=None)
    response = http.post("/api/login", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200, response.text
    return http


def jobs_by_process(servers: list[ServerProcess]) -> dict[int, set[str]]:
    running: dict[int, set[str]] = {}
    for n, server in enumerate(servers):
        if server.process is None or server.process.poll() is not None:
            continue
        running[n] = set(httpx.get(f"{base(server)}/healthz", timeout=None).json()["jobs"])
    return running


def test_alarm_at_one_process_reaches_a_console_at_the_other(cluster: Any) -> None:
    servers, keys = cluster
    one, two = servers
    http = signed_in(two)
    token = http.cookies.get("helppoint_session")

    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any], list[dict[str, Any]]]:
        console_url = f"ws://127.0.0.1:{two.port}/console/ws"
        async with connect(
            console_url, additional_headers={"Cookie": f"helppoint_session={token}"}
        ) as console:
            snapshot = json.loads(await asyncio.wait_for(console.recv(), 10))
            assert snapshot["type"] == "snapshot"
            async with connect(f"ws://127.0.0.1:{one.port}/device/v1") as unit:
                await unit.send(
                    json.dumps({"type": "hello", "unit": "HP-01", "key": keys["HP-01"]})
                )
                assert json.loads(await unit.recv())["type"] == "welcome"
                await unit.send(
                    json.dumps(
                        {
                            "type": "event",
                            "seq": 1,
                            "event": "activation",
                            "time": "2026-11-25T23:00:00Z",
                        }
                    )
                )
                ack = json.loads(await asyncio.wait_for(unit.recv(), 10))
                assert ack["type"] == "ack" and ack["status"] == "stored"
                seen: list[dict[str, Any]] = []
                while not any(m["type"] == "incident" for m in seen):
                    seen.append(json.loads(await asyncio.wait_for(console.recv(), 10)))

                # Process 2 knows the unit is linked (to process 1) once the link is recorded.
                def linked() -> bool:
                    units = http.get("/api/units").json()
                    return any(u["id"] == "HP-01" and u["connected"] for u in units)

                await asyncio.get_running_loop().run_in_executor(
                    None,
                    lambda: eventually_sync(
                        linked, 15, every=0.2, what="process 2 to see HP-01 linked"
                    ),
                )
                sent = http.post("/api/units/HP-01/commands", json={"command": "flash_light"})
                assert sent.status_code in (200, 202), sent.text
                # Passing over the press-time listen offer (call_offer) the activation started.
                command = json.loads(await asyncio.wait_for(unit.recv(), 10))
                while command["type"] != "command":
                    command = json.loads(await asyncio.wait_for(unit.recv(), 10))
                await unit.send(
                    json.dumps({"type": "command_result", "id": command["id"], "ok": True})
                )
                results: list[dict[str, Any]] = []
                while not any(m["type"] == "command_result" for m in results):
                    results.append(json.loads(await asyncio.wait_for(console.recv(), 10)))
            return seen, command, results

    seen, command, results = asyncio.run(scenario())
    incident = next(m["incident"] for m in seen if m["type"] == "incident")
    assert incident["unit_id"] == "HP-01" and incident["state"] == "new"
    assert command["type"] == "command" and command["command"] == "flash_light"
    result = next(m["result"] for m in results if m["type"] == "command_result")
    assert result == {"unit_id": "HP-01", "id": command["id"], "ok": True, "detail": ""} or (
        result["id"] == command["id"] and result["ok"] is True
    )
    # A unit linked nowhere is refused clearly by either process.
    refused = http.post("/api/units/HP-02/commands", json={"command": "flash_light"})
    assert refused.status_code == 409 and "not connected" in refused.json()["detail"]


def test_each_job_runs_in_exactly_one_process_and_moves_when_it_dies(cluster: Any) -> None:
    servers, _keys = cluster

    def elected() -> bool:
        every = [job for jobs in jobs_by_process(servers).values() for job in jobs]
        return len(every) == len(set(every)) and set(every) >= JOBS

    eventually_sync(elected, 15, every=0.2, what="every job to run in exactly one process")
    # Stays that way: no second process picks up a job that is already running.
    time.sleep(5)
    running = jobs_by_process(servers)
    every = [job for jobs in running.values() for job in jobs]
    assert len(every) == len(set(every)), running
    leader = next(n for n, jobs in running.items() if "supervision" in jobs)
    servers[leader].kill()
    survivor = 1 - leader
    eventually_sync(
        lambda: jobs_by_process(servers).get(survivor) == set(every),
        20,
        every=0.2,
        what="the survivor to take over every job",
    )


def test_serve_with_two_workers_registers_two_processes_and_serves(tmp_path: Path) -> None:
    """`helppoint serve --workers 2`: two processes share the port and the database."""
    require_postgres()
    schema = f"c_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_ADMIN_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in PG_ADMIN_URL else "?"
    url = f"{PG_ADMIN_URL}{separator}options=-csearch_path%3D{schema}"
    server = ServerProcess(url, free_port(), tmp_path / "server.log", extra_args=["--workers", "2"])
    engine = make_engine(url)
    try:
        server.start()

        def two_registered() -> bool:
            with engine.connect() as conn:
                return conn.execute(text("SELECT count(*) FROM server_processes")).scalar_one() == 2

        eventually_sync(two_registered, 30, every=0.2, what="two worker processes to register")
        assert httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=None).json()["ok"]
    finally:
        server.stop()
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_several_workers_are_refused_on_sqlite(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "helppoint.cli",
            "serve",
            "--workers",
            "2",
            "--database-url",
            f"sqlite:///{tmp_path / 'x.sqlite'}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "needs PostgreSQL" in result.stderr
