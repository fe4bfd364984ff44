"""Hellos checked in batches (helppoint/gateway/hellos.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event as sa_event

from helppoint.domain.events import EventType
from helppoint.gateway.frames import Hello
from helppoint.gateway.hellos import HelloBatcher, Welcome, authenticate_hellos
from helppoint.services.ingest import ReportedEvent, handle_device_events
from helppoint.services.units import (
    AuthenticationFailed,
    ensure_zone,
    provision_unit,
    revoke_unit,
    rotate_unit_key,
)
from tests.conftest import Database


def fleet(database: Database, count: int) -> dict[str, str]:
    uow = database.uow()
    keys = {}
    with uow:
        ensure_zone(uow, "z", "Zone")
        uow.flush()
        for n in range(count):
            unit = provision_unit(uow, f"U{n:03d}", f"Unit {n}", "z", 52.2, -0.9)
            keys[unit.unit_id] = unit.key
        uow.commit()
    return keys


def store_events(database: Database, unit_id: str, count: int) -> None:
    uow = database.uow()
    with uow:
        handle_device_events(
            uow,
            [
                ReportedEvent(unit_id, seq, EventType.HEARTBEAT, datetime.now(UTC), {})
                for seq in range(1, count + 1)
            ],
            datetime.now(UTC),
            timedelta(minutes=5),
        )
        uow.commit()


def count_statements(database: Database) -> list[str]:
    statements: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    sa_event.listen(database.engine, "before_cursor_execute", before)
    return statements


def test_one_batch_answers_each_hello_for_itself(database: Database) -> None:
    keys = fleet(database, 6)
    store_events(database, "U001", 3)
    revoke_unit(database.uow(), "U004")
    old_key = keys["U005"]
    keys["U005"] = rotate_unit_key(database.uow(), "U005", overlap=timedelta(hours=1)).key
    with database.uow() as uow:
        unit = uow.units.get("U002")
        assert unit is not None
        unit.heartbeat_period = 10
        uow.commit()

    hellos = [
        Hello("U000", keys["U000"], "fw 2", ["button"]),
        Hello("U001", keys["U001"], "fw 2", ["button"]),
        Hello("U002", keys["U002"], "fw 2", ["button"]),
        Hello("U003", keys["U000"]),  # another unit's key
        Hello("U004", keys["U004"]),  # revoked
        Hello("U005", old_key, "fw 2", ["button"]),  # the previous key, within its overlap
        Hello("NOPE", keys["U000"]),  # unknown
        Hello("U000", keys["U000"], "fw 2", ["button"]),  # the same unit twice in a batch
    ]
    statements = count_statements(database)
    results = authenticate_hellos(database.uow(), hellos, 30)

    assert results[0] == Welcome("U000", 0, 30)
    assert results[1] == Welcome("U001", 3, 30)
    assert results[2] == Welcome("U002", 0, 10)
    for index, unit_id in ((3, "U003"), (4, "U004"), (6, "NOPE")):
        failed = results[index]
        assert isinstance(failed, AuthenticationFailed) and failed.args == (unit_id,)
    assert results[5] == Welcome("U005", 0, 30)
    assert results[7] == Welcome("U000", 0, 30)
    # Units, last sequence numbers and one write for every changed firmware: a few statements
    # for the whole batch, not a few per unit.
    queries = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "UPDATE"))]
    assert len(queries) <= 4, queries
    with database.uow() as uow:
        for unit_id in ("U000", "U001", "U002", "U005"):
            unit = uow.units.get(unit_id)
            assert unit is not None
            assert (unit.firmware, unit.capabilities) == ("fw 2", ["button"])
        refused = uow.units.get("U003")
        assert refused is not None and refused.firmware == ""

    # The same fleet again: nothing changed, nothing written.
    statements.clear()
    again = authenticate_hellos(database.uow(), [hellos[0], hellos[1]], 30)
    assert again == [Welcome("U000", 0, 30), Welcome("U001", 3, 30)]
    assert not [s for s in statements if s.lstrip().upper().startswith("UPDATE")]


async def test_a_storm_of_hellos_is_checked_in_a_few_batches(database: Database) -> None:
    keys = fleet(database, 120)
    batcher = HelloBatcher(database.uow, 30)
    try:
        hellos = [Hello(unit_id, key) for unit_id, key in keys.items()]
        hellos.append(Hello("U000", "wrong key"))
        results = await asyncio.gather(
            *(batcher.authenticate(hello) for hello in hellos), return_exceptions=True
        )
        assert results[:-1] == [Welcome(unit_id, 0, 30) for unit_id in keys]
        assert isinstance(results[-1], AuthenticationFailed)
        # The first hello is answered alone, at once; the rest waited for it and went together.
        assert batcher.batches <= 3 and batcher.largest_batch >= 100
    finally:
        batcher.close()


async def test_a_database_failure_fails_the_waiting_hellos_and_the_next_ones_work(
    database: Database,
) -> None:
    keys = fleet(database, 3)
    broken = True

    def uow_factory() -> Any:
        if broken:
            raise ConnectionError("database unreachable")
        return database.uow()

    batcher = HelloBatcher(uow_factory, 30)
    try:
        with pytest.raises(ConnectionError):
            await batcher.authenticate(Hello("U000", keys["U000"]))
        broken = False
        assert await batcher.authenticate(Hello("U001", keys["U001"])) == Welcome("U001", 0, 30)
    finally:
        batcher.close()
