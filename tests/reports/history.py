"""A seeded October 2026 with known answers (see the comments), for the report tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from helppoint.domain.classification import Classification as C
from helppoint.domain.events import Priority
from helppoint.domain.model import Incident, IncidentState
from helppoint.services.seed import seed_demo
from helppoint.store.tables import incidents
from helppoint.store.tables_plans import police_responses
from helppoint.store.tables_supervision import unit_flips
from helppoint.store.uow import UnitOfWork


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# unit, opened (UTC), seconds to answer (None: unanswered), classification, escalated, presses
OCTOBER = [
    ("HP-01", utc(2026, 9, 30, 23, 30), 10, C.FALSE_ACCIDENTAL, False, 1),  # Thu 00:30 BST
    ("HP-01", utc(2026, 10, 3, 21, 0), 25, C.FALSE_MALICIOUS, False, 1),  # Sat 22:00
    ("HP-01", utc(2026, 10, 3, 21, 10), 45, C.IMMINENT_THREAT, True, 3),  # Sat 22:10
    ("HP-01", utc(2026, 10, 10, 12, 0), None, None, False, 1),  # Sat 13:00, never answered
    ("HP-05", utc(2026, 10, 31, 23, 59), 5, C.FALSE_TEST, False, 1),  # Sat 23:59 GMT
    ("HP-05", utc(2026, 10, 20, 8, 0), 70, C.MEDICAL, True, 1),  # Tue 09:00 BST
    ("HP-05", utc(2026, 10, 21, 8, 0), 20, C.FALSE_ACCIDENTAL, False, 1),  # Wed 09:00
    ("HP-05", utc(2026, 10, 22, 8, 0), 30, C.TECHNICAL, False, 1),  # Thu 09:00
    ("HP-05", utc(2026, 10, 23, 8, 0), 60, C.SILENT, False, 1),  # Fri 09:00
    ("HP-05", utc(2026, 10, 24, 8, 0), 15, C.CONCERN, False, 1),  # Sat 09:00
]
# Not in October's report: November in London, September, October last year, and a tamper
# alarm (not an activation).
OTHERS = [
    ("HP-05", utc(2026, 11, 1, 0, 0), 10, C.FALSE_ACCIDENTAL, False, 1),
    ("HP-02", utc(2026, 9, 15, 10, 0), 20, C.CONCERN, False, 1),
    ("HP-02", utc(2025, 10, 15, 10, 0), 40, C.FALSE_MALICIOUS, False, 1),
]
# The police were called to HP-01's imminent threat (100 s after it opened), acknowledged it
# a minute later and were on scene 12 minutes after the call; HP-05's medical escalation went
# to the ambulance service, not the police.
POLICE_CALL = ("HP-01", utc(2026, 10, 3, 21, 10))
# unit, at, new status: HP-02 down 6 h; HP-03 down from before the month to 2 Oct (25 h of
# October, which starts at 30 Sep 23:00 UTC); HP-04 down for the month's last hour.
FLIPS = [
    ("HP-02", utc(2026, 10, 11, 0, 0), "down"),
    ("HP-02", utc(2026, 10, 11, 6, 0), "up"),
    ("HP-03", utc(2026, 9, 29, 0, 0), "down"),
    ("HP-03", utc(2026, 10, 2, 0, 0), "up"),
    ("HP-04", utc(2026, 10, 31, 23, 0), "down"),
]


def incident(
    unit: str,
    opened: datetime,
    answer: int | None,
    classification: C | None,
    escalated: bool,
    presses: int,
    priority: Priority = Priority.ACTIVATION,
) -> Incident:
    """A closed (or, unanswered, still new) incident as the console would have left it."""
    made = Incident(unit, priority, opened, opened, event_count=presses)
    if answer is None:
        return made
    made.acknowledge("olly", opened + timedelta(seconds=answer))
    if classification is not None:
        made.classify(classification, opened + timedelta(seconds=answer + 60))
        if escalated:
            made.escalate(opened + timedelta(seconds=answer + 90))
        made.close("olly", opened + timedelta(minutes=10))
    return made


def seed_october(uow_factory: object) -> None:
    """The eight demo units with October's (and a few other) incidents and flips."""
    make = uow_factory  # a callable returning a fresh UnitOfWork
    seed_demo(make())  # type: ignore[operator]
    uow: UnitOfWork = make()  # type: ignore[operator]
    with uow:
        # Every unit first heard on 1 September (a unit never heard from has no uptime).
        uow.units.touch([f"HP-0{n}" for n in range(1, 9)], utc(2026, 9, 1, 0))
        for row in OCTOBER + OTHERS:
            uow.incidents.add(incident(*row))
        uow.incidents.add(
            incident("HP-06", utc(2026, 10, 5, 12), 5, C.TECHNICAL, False, 1, Priority.TAMPER)
        )
        uow._session.execute(
            insert(unit_flips),
            [
                {
                    "unit_id": u,
                    "at": at,
                    "old_status": "up" if s == "down" else "down",
                    "new_status": s,
                }
                for u, at, s in FLIPS
            ],
        )
        uow._session.flush()
        unit, opened = POLICE_CALL
        incident_id = uow._session.execute(
            select(incidents.c.id).where(
                incidents.c.unit_id == unit, incidents.c.opened_at == opened
            )
        ).scalar_one()
        called = opened + timedelta(seconds=100)
        uow._session.execute(
            insert(police_responses).values(
                incident_id=incident_id,
                called_at=called,
                called_by="olly",
                acknowledged_at=called + timedelta(minutes=1),
                acknowledged_by="pc-jones",
                cad_reference="NP-1",
                on_scene_at=called + timedelta(minutes=12),
                notes="",
            )
        )
        uow.commit()
    assert IncidentState.CLOSED  # the states used above exist
