"""Commissioning tests: an admin starts one for a unit (the unit goes on test, the shared rule
of test activity in domain/triage.py), someone presses its button, and the control room takes
the press along the whole path; the checklist shows which steps passed (domain/commissioning.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from helppoint.domain.commissioning import (
    COMMISSIONING_MINUTES,
    COMMISSIONING_REASON,
    Step,
    checklist,
    passed,
)
from helppoint.domain.errors import NotFound
from helppoint.domain.triage import is_test
from helppoint.services import triage_on_test
from helppoint.services.clock import utcnow
from helppoint.services.notifications import TEST_PREFIX
from helppoint.store.uow import UnitOfWork


@dataclass(frozen=True)
class Commissioning:
    """A unit's latest commissioning test and how far it got."""

    unit_id: str
    started_at: datetime | None
    started_by: str
    on_test_until: datetime | None
    steps: list[Step]

    @property
    def passed(self) -> bool:
        return passed(self.steps)

    @property
    def running(self) -> bool:
        return is_test(self.on_test_until, utcnow())


def start(
    uow_factory: Callable[[], UnitOfWork], unit_id: str, actor: str, address: str | None = None
) -> Commissioning:
    """Put the unit on test for its commissioning and start a new checklist."""
    triage_on_test.put_on_test(
        uow_factory(),
        unit_id,
        COMMISSIONING_MINUTES,
        f"{COMMISSIONING_REASON} started by {actor}",
        actor,
        address,
    )
    uow: UnitOfWork = uow_factory()
    with uow:
        uow.commissioning.add_run(unit_id, utcnow(), actor)
        uow.commit()
    return status(uow_factory(), unit_id)


def status(uow: UnitOfWork, unit_id: str) -> Commissioning:
    """The unit's latest commissioning test, with each step passed or not."""
    with uow:
        unit = uow.units.get(unit_id)
        if unit is None or unit.retired_at is not None:
            raise NotFound(f"unit {unit_id!r} does not exist")
        run = uow.commissioning.latest_run(unit_id)
        if run is None:
            return Commissioning(unit_id, None, "", unit.on_test_until, [])
        incident = uow.incidents.first_test_activation(unit_id, run.started_at)
        notifications = (
            uow.notifications.for_incident(incident.id) if incident and incident.id else []
        )
        police = uow.police.get(incident.id) if incident and incident.id else None
        steps = checklist(incident, list(notifications), police, TEST_PREFIX)
        return Commissioning(unit_id, run.started_at, run.started_by, unit.on_test_until, steps)
