"""Each incident's answer time is stored when it is acknowledged (incidents.answer_microseconds,
migration 0031) and equals acknowledged_at - opened_at in whole microseconds, however it was
acknowledged and for rows filled in by the migration; the reports group on it, and an
activation never answered has none and counts against every target (issue 23)."""

from __future__ import annotations

from datetime import datetime, timedelta

from alembic import command
from sqlalchemy import select

from helppoint.domain.events import Priority
from helppoint.domain.model import Incident, answer_microseconds
from helppoint.domain.reports import CostInputs, Month
from helppoint.services import incidents as incident_service
from helppoint.services.clock import replaying_at
from helppoint.services.reports import build_monthly_report, report_view
from helppoint.services.seed import seed_demo
from helppoint.store.migrate import alembic_config, migration_transaction, upgrade
from helppoint.store.tables import incidents
from tests.reports.history import utc

MICRO = timedelta(microseconds=1)
# opened, answered after (None: never answered): microseconds either side of whole seconds,
# across midnight and a year's end, an acknowledgement stamped before the opening (a clock
# stepped back) and a long wait.
CASES = [
    (utc(2026, 10, 2, 9, 0, 0).replace(microsecond=999_999), MICRO),
    (utc(2026, 10, 2, 10, 0, 0).replace(microsecond=1), timedelta(seconds=30)),
    (utc(2026, 10, 2, 11, 0, 0), timedelta(seconds=30, microseconds=1)),
    (utc(2026, 10, 3, 23, 59, 59).replace(microsecond=500_000), timedelta(seconds=59.75)),
    (utc(2026, 10, 4, 8, 0, 0).replace(microsecond=250_000), -timedelta(microseconds=300_000)),
    (utc(2026, 10, 5, 8, 0, 0), timedelta(hours=3, microseconds=123_457)),
    (utc(2026, 10, 6, 8, 0, 0), None),
    (utc(2026, 10, 7, 8, 0, 0), None),
]
NOW = utc(2026, 12, 6, 9)


def _plant(database) -> list[int]:  # type: ignore[no-untyped-def]
    """The cases as incidents: half acknowledged through the console's service (a
    conditional UPDATE), half through the Incident itself (as history is written)."""
    seed_demo(database.uow())
    ids = []
    uow = database.uow()
    with uow:
        made = [Incident("HP-01", Priority.ACTIVATION, opened, opened) for opened, _ in CASES]
        for incident in made:
            uow.incidents.add(incident)
        uow._session.flush()
        for n, (incident, (opened, wait)) in enumerate(zip(made, CASES, strict=True)):
            if wait is not None and n % 2:
                incident.acknowledge("olly", opened + wait)
            assert incident.id is not None
            ids.append(incident.id)
        uow.commit()
    for n, (opened, wait) in enumerate(CASES):
        if wait is not None and not n % 2:
            with replaying_at(opened + wait):
                incident_service.acknowledge(database.uow(), ids[n], "olly")
    return ids


def _stored(database) -> dict[int, tuple[datetime, datetime | None, int | None]]:  # type: ignore[no-untyped-def]
    c = incidents.c
    with database.session() as session:
        rows = session.execute(select(c.id, c.opened_at, c.acknowledged_at, c.answer_microseconds))
        return {row[0]: (row[1], row[2], row[3]) for row in rows}


def _check(stored: dict[int, tuple[datetime, datetime | None, int | None]], ids: list[int]) -> None:
    for n, (opened, wait) in enumerate(CASES):
        at, acknowledged, micro = stored[ids[n]]
        assert at == opened
        if wait is None:
            assert (acknowledged, micro) == (None, None)
        else:
            assert acknowledged == opened + wait
            assert micro == answer_microseconds(opened, opened + wait) == wait // MICRO


def test_the_stored_answer_time_is_the_one_the_timestamps_give(database) -> None:  # type: ignore[no-untyped-def]
    ids = _plant(database)
    _check(_stored(database), ids)


def test_the_migration_fills_in_the_answer_times_of_existing_incidents(database) -> None:  # type: ignore[no-untyped-def]
    ids = _plant(database)
    config = alembic_config(database.engine)
    # The column gone (with SQLite's references off for its table rebuild, as for an
    # upgrade), then filled in again by 0031.
    with database.engine.connect() as connection, migration_transaction(connection):
        config.attributes["connection"] = connection
        command.downgrade(config, "0030")
    upgrade(database.engine)
    _check(_stored(database), ids)


def test_unanswered_activations_count_against_every_target(database) -> None:  # type: ignore[no-untyped-def]
    """October's 8: answered within 30 s are the first two (1 µs, 30 s) and the early stamp
    (0 s); within 60 s also 59.75 s and 30.000001 s; 3 h is late; 2 never answered. Shares
    are of all 8, the median is the nearest-rank 3rd of the 6 answered."""
    _plant(database)
    uow = database.uow()
    with uow:
        for incident in uow.incidents.unclaimed():
            assert incident.acknowledged_at is None
    report = build_monthly_report(
        database.uow(), Month(2026, 10), CostInputs(0, 1, 0), now=NOW, trend=True
    )
    view = report_view(report)
    times = view["answer_times"]
    assert (times["answered"], times["unanswered"]) == (6, 2)
    assert [(t["answered_within"], t["share"]) for t in times["targets"]] == [
        (3, round(3 / 8, 4)), (5, round(5 / 8, 4)),
    ]  # fmt: skip
    assert times["median_seconds"] == 30.0
    october = view["trend"]["months"][-1]
    assert october["unanswered"] == 2
    assert october["answered_within"] == {"30": round(3 / 8, 4), "60": round(5 / 8, 4)}
    assert october["median_answer_seconds"] == 30.0
