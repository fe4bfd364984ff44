"""Units' rows are locked in id order by everything that writes many of them at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from helppoint.services.seed import seed_demo
from helppoint.store import tables as t
from tests.conftest import Database
from tests.waiting import eventually_sync

pytestmark = pytest.mark.postgres

AT = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_touching_units_locks_them_in_id_order(postgres_database: Database) -> None:
    """The event writer touches a batch's units in one statement. While it waits for a unit
    another transaction holds, it must hold every unit before that one in id order and none
    after it, as the supervision sweep does: two processes then cannot deadlock."""
    database = postgres_database
    seed_demo(database.uow())
    engine = database.engine
    toucher: list[int] = []

    def touch() -> None:
        with database.uow() as uow:
            toucher.append(
                uow._session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            )
            uow.units.touch(["HP-05", "HP-01", "HP-03", "HP-04"], AT)
            uow.commit()

    def locked(unit_id: str) -> bool:
        with engine.connect() as probe:
            try:
                probe.exec_driver_sql(
                    "SELECT id FROM help_points WHERE id = %(id)s FOR UPDATE NOWAIT",
                    {"id": unit_id},
                )
            except OperationalError:
                return True
            finally:
                probe.rollback()
        return False

    def waiting_for_a_lock() -> bool:
        if not toucher:
            return False
        with engine.connect() as probe:
            found = probe.exec_driver_sql(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %(pid)s",
                {"pid": toucher[0]},
            ).scalar_one_or_none()
        return found == "Lock"

    with engine.connect() as holder, ThreadPoolExecutor(1) as pool:
        holder.exec_driver_sql("SELECT id FROM help_points WHERE id = 'HP-03' FOR UPDATE")
        touched = pool.submit(touch)
        eventually_sync(waiting_for_a_lock, what="the touch to wait for HP-03")
        assert locked("HP-01")
        assert not locked("HP-04") and not locked("HP-05")
        holder.rollback()
        touched.result(timeout=30)
    with engine.connect() as connection:
        seen = dict(
            connection.execute(select(t.help_points.c.id, t.help_points.c.last_seen_at)).all()
        )
    assert {unit for unit, at in seen.items() if at == AT} == {
        "HP-01",
        "HP-03",
        "HP-04",
        "HP-05",
    }
