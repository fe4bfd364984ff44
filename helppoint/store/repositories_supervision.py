"""Repositories for supervision: due units, atomic status flips, maintenance tickets, and the
units' power reports."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from helppoint.domain.power import PowerState
from helppoint.domain.supervision import MaintenanceTicket, TicketState, UnitFlip
from helppoint.store import tables as t
from helppoint.store import tables_supervision as ts
from helppoint.store.prepared import BulkStatement, PreparedStatement
from helppoint.store.tables_selftest import unit_power


class SupervisionRepository:
    """Which units are due, and their status flips (one conditional UPDATE each)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def due_down(self, now: float, limit: int = 1000) -> list[str]:
        """Units reported up whose deadline has passed, most overdue first (one indexed query)."""
        c = t.help_points.c
        rows = self.session.scalars(
            select(c.id)
            .where(c.supervision_status == "up", c.alert_after < now, c.active.is_(True))
            .order_by(c.alert_after)
            .limit(limit)
        ).all()
        return list(rows)

    def due_up(self, now: float, limit: int = 1000) -> list[str]:
        """Units reported down that have been heard from since (their deadline moved ahead)."""
        c = t.help_points.c
        rows = self.session.scalars(
            select(c.id)
            .where(c.supervision_status == "down", c.alert_after >= now)
            .order_by(c.alert_after)
            .limit(limit)
        ).all()
        return list(rows)

    def next_deadline(self) -> float | None:
        """The earliest deadline of a unit reported up (POSIX seconds), or None."""
        c = t.help_points.c
        value = self.session.scalar(
            select(func.min(c.alert_after)).where(c.supervision_status == "up", c.active.is_(True))
        )
        return float(value) if value is not None else None

    def flip(self, unit_id: str, old: str, new: str, now: float) -> bool:
        """Change the reported status atomically; False if someone else already did.

        `UPDATE … WHERE status = old AND <deadline condition>`: of two sweeps racing, exactly
        one changes the row, so a unit is never reported twice.
        """
        c = t.help_points.c
        deadline = c.alert_after < now if new == "down" else c.alert_after >= now
        result = self.session.execute(
            update(t.help_points)
            .where(c.id == unit_id, c.supervision_status == old, deadline)
            .values(supervision_status=new)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def add_flip(self, flip: UnitFlip) -> None:
        self.session.add(flip)

    def last_flip(self, unit_id: str, new_status: str | None = None) -> UnitFlip | None:
        """The unit's most recent flip (to `new_status`, when given)."""
        c = ts.unit_flips.c
        query = select(UnitFlip).where(c.unit_id == unit_id)
        if new_status is not None:
            query = query.where(c.new_status == new_status)
        return self.session.scalars(query.order_by(c.at.desc(), c.id.desc()).limit(1)).first()

    def flips(self, unit_id: str | None = None, since: datetime | None = None) -> list[UnitFlip]:
        """Flips in time order, optionally of one unit and from a time on."""
        c = ts.unit_flips.c
        query = select(UnitFlip)
        if unit_id is not None:
            query = query.where(c.unit_id == unit_id)
        if since is not None:
            query = query.where(c.at >= since)
        return list(self.session.scalars(query.order_by(c.at, c.id)).all())

    def status_before(self, since: datetime) -> dict[str, str]:
        """Each unit's reported status just before `since` ("up" when it never flipped)."""
        c = ts.unit_flips.c
        latest = (
            select(c.unit_id, func.max(c.id).label("id")).where(c.at < since).group_by(c.unit_id)
        ).subquery()
        rows = self.session.execute(
            select(c.unit_id, c.new_status).join(latest, c.id == latest.c.id)
        ).all()
        return {unit_id: status for unit_id, status in rows}


class TicketRepository:
    """The maintenance queue."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, ticket: MaintenanceTicket) -> None:
        self.session.add(ticket)

    def get(self, ticket_id: int) -> MaintenanceTicket | None:
        return self.session.get(MaintenanceTicket, ticket_id)

    def open_for(self, unit_id: str, fault: str) -> MaintenanceTicket | None:
        """The unit's ticket for this fault that is not yet verified, if any."""
        c = ts.maintenance_tickets.c
        return self.session.scalars(
            select(MaintenanceTicket)
            .where(
                c.unit_id == unit_id,
                c.fault == fault,
                c.state != TicketState.VERIFIED.value,
            )
            .order_by(c.id.desc())
            .limit(1)
        ).first()

    def open_for_faults(
        self, keys: Collection[tuple[str, str]]
    ) -> dict[tuple[str, str], MaintenanceTicket]:
        """`open_for` of many (unit, fault) pairs in one query; pairs without one are left out."""
        if not keys:
            return {}
        c = ts.maintenance_tickets.c
        tickets = self.session.scalars(
            select(MaintenanceTicket)
            .where(
                c.unit_id.in_(sorted({unit_id for unit_id, _ in keys})),
                c.fault.in_(sorted({fault for _, fault in keys})),
                c.state != TicketState.VERIFIED.value,
            )
            .order_by(c.id)
        ).all()
        # Ordered by id, so the latest ticket of each pair is the one kept.
        found = {(ticket.unit_id, ticket.fault): ticket for ticket in tickets}
        return {key: ticket for key, ticket in found.items() if key in keys}

    def list(
        self, state: TicketState | None = None, open_only: bool = False, limit: int = 500
    ) -> Sequence[MaintenanceTicket]:
        """Tickets, oldest first (open ones are the queue)."""
        c = ts.maintenance_tickets.c
        query = select(MaintenanceTicket)
        if state is not None:
            query = query.where(c.state == state.value)
        elif open_only:
            query = query.where(c.state != TicketState.VERIFIED.value)
        return self.session.scalars(query.order_by(c.opened_at, c.id).limit(limit)).all()

    def open_counts(self) -> dict[str, int]:
        """How many unverified tickets each unit has."""
        c = ts.maintenance_tickets.c
        rows = self.session.execute(
            select(c.unit_id, func.count())
            .where(c.state != TicketState.VERIFIED.value)
            .group_by(c.unit_id)
        ).all()
        return {unit_id: int(count) for unit_id, count in rows}


_POWER_STATES = select(
    unit_power.c.unit_id,
    unit_power.c.battery,
    unit_power.c.mains,
    unit_power.c.reported_at,
    unit_power.c.battery_low,
    unit_power.c.mains_lost,
)
_POWER_STATES_OF = PreparedStatement(
    _POWER_STATES.where(unit_power.c.unit_id.in_(bindparam("b_ids", expanding=True)))
)
_POWER_KEYS = ("unit_id", "battery", "mains", "reported_at", "battery_low", "mains_lost")
_INSERT_POWER = BulkStatement(insert(unit_power), _POWER_KEYS, repeated=("reported_at",))
_UPDATE_POWER = BulkStatement(
    update(unit_power)
    .where(unit_power.c.unit_id == bindparam("b_unit"))
    .values(
        battery=bindparam("b_battery"),
        mains=bindparam("b_mains"),
        reported_at=bindparam("b_reported_at"),
        battery_low=bindparam("b_battery_low"),
        mains_lost=bindparam("b_mains_lost"),
    ),
    ("b_unit", "b_battery", "b_mains", "b_reported_at", "b_battery_low", "b_mains_lost"),
    repeated=("b_reported_at",),
)


def _power_row(unit_id: str, state: PowerState) -> tuple[Any, ...]:
    return (
        unit_id,
        state.battery,
        state.mains,
        state.reported_at,
        state.battery_low,
        state.mains_lost,
    )


class PowerRepository:
    """Each unit's latest power state (domain/power.py)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def states(self, unit_ids: Collection[str] | None = None) -> dict[str, PowerState]:
        """The stored state of these units (or of every unit), of those that have one.

        The event writer reads those of every chunk of heartbeats (ingest_queue.py), so the
        units' query is prepared: through the ORM's execute it cost a few microseconds a
        unit more than the rows themselves, while presses waited behind the chunk's commit."""
        if unit_ids is None:
            rows: Sequence[Sequence[Any]] = self.session.execute(_POWER_STATES).all()
        else:
            rows = _POWER_STATES_OF.rows(self.session.connection(), {"b_ids": list(unit_ids)})
        return {
            unit_id: PowerState(battery, mains, reported_at, bool(low), bool(lost))
            for unit_id, battery, mains, reported_at, low, lost in rows
        }

    def add_many(self, states: Sequence[tuple[str, PowerState]]) -> None:
        """Store the first power state of these units: one statement for them all (a fleet's
        first heartbeats after it is installed are thousands of them a minute)."""
        _INSERT_POWER.send(self.session.connection(), [_power_row(u, s) for u, s in states])

    def update_many(self, states: Sequence[tuple[str, PowerState]]) -> None:
        """Store the new power state of these units (each has one): one statement."""
        _UPDATE_POWER.send(self.session.connection(), [_power_row(u, s) for u, s in states])
