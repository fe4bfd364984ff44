"""The demo's history (services/history.py): written through the services with the times they
would have had, consistent with the report, refused twice, and the clock back to now after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from helppoint.domain.errors import InvalidInput
from helppoint.domain.reports import Month
from helppoint.services import audit
from helppoint.services.clock import replaying_at, utcnow
from helppoint.services.history import fill_history
from helppoint.services.plans import ensure_demo_plans
from helppoint.services.reports import build_monthly_report, list_interventions
from helppoint.services.seed import seed_demo
from helppoint.store.tables import incidents
from helppoint.store.tables_plans import police_responses
from helppoint.store.tables_supervision import unit_flips

UNTIL = datetime(2026, 12, 1, tzinfo=UTC)


def test_history_goes_through_the_services(database) -> None:  # type: ignore[no-untyped-def]
    seed_demo(database.uow())
    ensure_demo_plans(database.uow)
    summary = fill_history(database.uow, UNTIL, days=40, per_day=4, seed=5)
    assert summary.first == UNTIL - timedelta(days=40)
    assert summary.activations > 100 and summary.presses > summary.activations
    with database.session() as session:
        rows = session.execute(
            select(incidents.c.state, incidents.c.opened_at, incidents.c.closed_at).where(
                incidents.c.priority == 1
            )
        ).all()
        responses = session.execute(select(func.count()).select_from(police_responses))
        flips = session.execute(
            select(unit_flips.c.new_status, func.count()).group_by(unit_flips.c.new_status)
        ).all()
    assert {state for state, _, _ in rows} == {"closed"}  # nothing left in the queue
    with database.uow() as uow:  # heard at the end, so a server started next finds them up
        assert all(u.last_seen_at is not None and u.last_seen_at >= UNTIL for u in uow.units.list())
    assert all(summary.first <= opened < UNTIL for _, opened, _ in rows)
    assert all(closed > opened for _, opened, closed in rows)
    assert responses.scalar() == summary.police_called
    assert dict(flips) == {"down": summary.outages, "up": summary.outages}
    [intervention] = list_interventions(database.uow())
    assert intervention.unit_id == summary.intervention_unit
    # The reports count the same activations.
    months = [Month(2026, 10), Month(2026, 11)]
    total = sum(build_monthly_report(database.uow(), m, now=UNTIL).activations for m in months)
    assert total == summary.activations
    november = build_monthly_report(database.uow(), Month(2026, 11), now=UNTIL)
    assert {u.share is not None for u in november.uptime} == {True}
    report = audit.verify(database.uow())  # every change is in the audit chain, intact
    assert report.ok and report.checked > 2 * summary.activations
    assert abs((utcnow() - datetime.now(UTC)).total_seconds()) < 60  # the clock is back
    with pytest.raises(InvalidInput, match="already has incidents"):
        fill_history(database.uow, UNTIL, days=10)


def test_the_replay_clock_is_scoped() -> None:
    at = datetime(2025, 3, 1, 12, tzinfo=UTC)
    with replaying_at(at):
        assert utcnow() == at
    assert utcnow() != at
    with pytest.raises(ValueError), replaying_at(datetime(2025, 3, 1)):
        pass
