"""SIGKILL the server in the middle of a flood of presses, restart it, and count.

Every press a unit saw acknowledged must be stored exactly once; the unacknowledged ones must
arrive after the restart, without duplicates.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from helppoint.services.units import ensure_zone, provision_unit
from helppoint.sim.fleet import Fleet
from helppoint.store import tables as t
from helppoint.store.database import make_engine, make_session_factory
from helppoint.store.migrate import upgrade
from helppoint.store.uow import UnitOfWork
from tests.ports import free_port

from .server_process import ServerProcess

UNITS = 20
PRESSES = 1500
KILL_AFTER_ACKS = 400


@pytest.mark.slow
async def test_sigkill_mid_flood_loses_and_doubles_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'server.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    uow = UnitOfWork(make_session_factory(engine))
    with uow:
        ensure_zone(uow, "z", "Zone")
        uow.flush()
        credentials = []
        for n in range(UNITS):
            unit = provision_unit(uow, f"U{n:03d}", f"Unit {n}", "z", 52.2, -0.9)
            credentials.append((unit.unit_id, unit.key))
        uow.commit()

    server = ServerProcess(url, free_port(), tmp_path / "server.log")
    server.start()
    acked_before_kill: set[tuple[str, int]] = set()
    killed = asyncio.Event()

    def on_ack(unit_id: str, seq: int, status: str) -> None:
        if not killed.is_set():
            acked_before_kill.add((unit_id, seq))

    fleet = Fleet(
        f"ws://127.0.0.1:{server.port}/device/v1",
        credentials,
        str(tmp_path / "outbox.sqlite"),
        gpio_mock=False,
        bounce_time=0.0,
        stills=False,  # what is measured here is the presses
        on_ack=on_ack,
        backoff_base=0.05,
        backoff_cap=0.5,
    )
    try:
        await fleet.start()
        await fleet.wait_connected(timeout=30)
        pressed = 0
        restarted = False
        for i in range(PRESSES):
            if fleet.press(credentials[i % UNITS][0]) is not None:
                pressed += 1
            # Checked right after a press and before the pause in which acks come in: a server
            # that keeps up with the flood has then still this press to answer.
            if not killed.is_set() and len(acked_before_kill) >= KILL_AFTER_ACKS:
                server.kill()
                killed.set()
                kill_at = i
                in_flight_at_kill = fleet.pending
            if killed.is_set() and not restarted and i >= kill_at + 200:
                server.start()
                restarted = True
            if i % 5 == 4:
                await asyncio.sleep(0.005)  # a steady flood: about 1,000 presses a second
        assert killed.is_set(), "the flood ended before the server was killed"
        if not restarted:
            server.start()
        await fleet.wait_all_acked(timeout=120)
    finally:
        await fleet.stop()
        server.stop()

    assert pressed == PRESSES
    # The kill really hit the middle of the flood: presses were waiting for their ack.
    assert in_flight_at_kill > 0
    print(
        f"\nkilled after {len(acked_before_kill)} acks with {in_flight_at_kill} presses in "
        f"flight; {PRESSES} pressed in all"
    )
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.device_events.c.unit_id, t.device_events.c.seq, t.device_events.c.unit_time)
        ).all()
    stored = Counter((unit_id, seq) for unit_id, seq, _ in rows)
    # Nothing doubled: one row per (unit, seq), and no press stored under two numbers.
    assert all(n == 1 for n in stored.values())
    assert len(rows) == PRESSES
    # Nothing lost: every press acknowledged before the kill is on disk.
    assert acked_before_kill <= set(stored)
    # And the server's incidents account for every press.
    with engine.connect() as conn:
        total_events = sum(c for (c,) in conn.execute(select(t.incidents.c.event_count)).all())
    assert total_events == PRESSES
