"""The maintenance queue: faults of units become tickets (open, assigned, fixed, verified)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from helppoint.domain.errors import NotFound
from helppoint.domain.events import EventType
from helppoint.domain.model import AuditEntry
from helppoint.domain.supervision import MaintenanceTicket, TicketState
from helppoint.services.clock import utcnow
from helppoint.services.maintainers import notify_ticket
from helppoint.services.views import iso
from helppoint.store.uow import UnitOfWork
from helppoint.topics import TicketMessage, Topic


class EventFacts(Protocol):
    """What the maintenance queue reads of a stored event (a DeviceEvent, or ingest's rows)."""

    unit_id: str
    type: EventType
    payload: dict[str, Any]
    incident_id: int | None
    received_at: datetime


def fault_of(event: EventFacts) -> tuple[str, str] | None:
    """The (fault, detail) an event reports for the maintenance queue, or None.

    Faults name the broken part (`light`, `camera`, `speaker`, `button_stuck`, `power`,
    `battery` …); a failed self-test names the checks that failed; tamper is its own fault.
    """
    payload = event.payload or {}
    if event.type is EventType.FAULT:
        return str(payload.get("fault") or "unspecified")[:64], str(payload.get("detail") or "")
    if event.type is EventType.TAMPER:
        return "tamper", str(payload.get("detail") or "")
    if event.type is EventType.SELF_TEST and payload.get("passed") is False:
        checks = payload.get("checks")
        failed = (
            sorted(k for k, v in checks.items() if v is False) if isinstance(checks, dict) else []
        )
        return "self_test", "failed: " + (", ".join(failed) or "unspecified")
    return None


def record_fault(
    uow: UnitOfWork,
    unit_id: str,
    fault: str,
    detail: str,
    incident_id: int | None,
    at: datetime | None = None,
) -> MaintenanceTicket:
    """Open a ticket for the fault, or count a recurrence on the unit's open one."""
    return _record_fault(
        uow, uow.tickets.open_for(unit_id, fault), unit_id, fault, detail, incident_id, at
    )


def _record_fault(
    uow: UnitOfWork,
    ticket: MaintenanceTicket | None,
    unit_id: str,
    fault: str,
    detail: str,
    incident_id: int | None,
    at: datetime | None,
) -> MaintenanceTicket:
    """record_fault, given the unit's latest unverified ticket for the fault (or None)."""
    at = at or utcnow()
    if ticket is not None and ticket.state is not TicketState.FIXED:
        ticket.recur(at, detail)
        return ticket
    ticket = MaintenanceTicket(
        unit_id=unit_id,
        fault=fault,
        detail=detail,
        opened_at=at,
        updated_at=at,
        incident_id=incident_id,
    )
    uow.tickets.add(ticket)
    uow.flush()
    uow.audit.add(
        AuditEntry(
            at=at,
            actor=f"unit:{unit_id}",
            action="ticket.opened",
            incident_id=incident_id,
            detail={"ticket": ticket.ref, "fault": fault},
        )
    )
    notify_ticket(uow, ticket, "opened", at)
    uow.publish_after_commit(Topic.MAINTENANCE, ticket_view(ticket))
    return ticket


def fixed_by_system(uow: UnitOfWork, ticket: MaintenanceTicket, at: datetime) -> None:
    """The fault cleared by itself (unit back online, power restored): await verification."""
    ticket.mark_fixed("system", at)
    notify_ticket(uow, ticket, "fixed", at)
    uow.publish_after_commit(Topic.MAINTENANCE, ticket_view(ticket))


def record_event_faults(uow: UnitOfWork, events: Sequence[EventFacts]) -> None:
    """Route the faults among newly stored events to the maintenance queue.

    The tickets they may recur on are read in one query for the batch, not one per event.
    """
    faults = [(event, found) for event in events if (found := fault_of(event)) is not None]
    if not faults:
        return
    latest = uow.tickets.open_for_faults({(event.unit_id, fault) for event, (fault, _) in faults})
    for event, (fault, detail) in faults:
        key = (event.unit_id, fault)
        # A ticket opened here is the one the next event of this fault recurs on.
        latest[key] = _record_fault(
            uow, latest.get(key), event.unit_id, fault, detail, event.incident_id, event.received_at
        )


def _change(
    uow_factory: Callable[[], UnitOfWork],
    ticket_id: int,
    actor: str,
    action: str,
    change: Callable[[MaintenanceTicket, datetime], None],
    notify: str | None = None,
) -> TicketMessage:
    uow = uow_factory()
    with uow:
        ticket = uow.tickets.get(ticket_id)
        if ticket is None:
            raise NotFound(f"ticket {ticket_id} does not exist")
        at = utcnow()
        change(ticket, at)
        if notify is not None:
            notify_ticket(uow, ticket, notify, at)
        uow.audit.add(
            AuditEntry(
                at=at,
                actor=actor,
                action=action,
                incident_id=ticket.incident_id,
                detail={"ticket": ticket.ref, "state": ticket.state.value},
            )
        )
        view = ticket_view(ticket)
        uow.publish_after_commit(Topic.MAINTENANCE, view)
        uow.commit()
        return view


def assign(
    uow_factory: Callable[[], UnitOfWork], ticket_id: int, engineer: str, actor: str
) -> TicketMessage:
    """Give a ticket to an engineer."""
    return _change(
        uow_factory, ticket_id, actor, "ticket.assigned", lambda t, at: t.assign(engineer, at)
    )


def mark_fixed(uow_factory: Callable[[], UnitOfWork], ticket_id: int, actor: str) -> TicketMessage:
    """The engineer fixed the fault."""
    return _change(
        uow_factory,
        ticket_id,
        actor,
        "ticket.fixed",
        lambda t, at: t.mark_fixed(actor, at),
        notify="fixed",
    )


def verify(uow_factory: Callable[[], UnitOfWork], ticket_id: int, actor: str) -> TicketMessage:
    """Confirm the fix (someone other than the fixer)."""
    return _change(
        uow_factory,
        ticket_id,
        actor,
        "ticket.verified",
        lambda t, at: t.verify(actor, at),
        notify="verified",
    )


def queue(uow: UnitOfWork, include_verified: bool = False) -> list[TicketMessage]:
    """The maintenance queue, oldest first."""
    with uow:
        return [ticket_view(t) for t in uow.tickets.list(open_only=not include_verified)]


def ticket_view(ticket: MaintenanceTicket) -> TicketMessage:
    return {
        "id": ticket.id,
        "ref": ticket.ref,
        "unit_id": ticket.unit_id,
        "fault": ticket.fault,
        "detail": ticket.detail,
        "state": ticket.state.value,
        "occurrences": ticket.occurrences,
        "incident_id": ticket.incident_id,
        "opened_at": iso(ticket.opened_at),
        "updated_at": iso(ticket.updated_at),
        "assigned_to": ticket.assigned_to,
        "fixed_at": iso(ticket.fixed_at),
        "fixed_by": ticket.fixed_by,
        "verified_at": iso(ticket.verified_at),
        "verified_by": ticket.verified_by,
    }
