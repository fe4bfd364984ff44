"""Maintainer contacts, and telling them about maintenance tickets through the outbox.

When a fault opens a ticket, and when a ticket is fixed or verified, every active contact
for the unit's zone (or for every zone) gets a notification, written in the same
transaction as the ticket change (the outbox pattern of services/notifications.py): either
both are committed or neither. The outbox worker delivers them by email or webhook.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.model import AuditEntry
from helppoint.domain.notifications import Notification
from helppoint.domain.plans import ActionKind, Channel
from helppoint.domain.supervision import MaintenanceTicket
from helppoint.services.views import iso
from helppoint.store.uow import UnitOfWork
from helppoint.topics import Topic

log = logging.getLogger(__name__)

MAINTAINERS_ACTOR = "system:maintenance"
CHANNELS = (Channel.EMAIL, Channel.WEBHOOK)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

#: What each ticket change says, by what happened.
WHAT = {
    "opened": "New fault",
    "fixed": "Fixed, waiting for verification",
    "verified": "Fix verified",
}


def check_contact(name: str, channel: str, target: str) -> tuple[str, Channel, str]:
    """The contact's fields, checked; InvalidInput says what is wrong."""
    name, target = name.strip(), target.strip()
    if not 1 <= len(name) <= 100:
        raise InvalidInput("a contact name of 1-100 characters is required")
    try:
        kind = Channel(channel)
    except ValueError:
        kind = None
    if kind not in CHANNELS:
        raise InvalidInput(f"channel must be email or webhook, not {channel!r}")
    assert kind is not None
    if len(target) > 300:
        raise InvalidInput("the address is longer than 300 characters")
    if kind is Channel.EMAIL and not _EMAIL.match(target):
        raise InvalidInput(f"{target!r} is not an email address")
    if kind is Channel.WEBHOOK:
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidInput(f"{target!r} is not an http(s) URL")
    return name, kind, target


def add_contact(
    uow: UnitOfWork,
    name: str,
    channel: str,
    target: str,
    actor: str,
    now: datetime,
    zone_id: str | None = None,
) -> dict[str, Any]:
    """Add a maintainer contact for one zone (or, without a zone, for every zone)."""
    name, kind, target = check_contact(name, channel, target)
    with uow:
        if zone_id is not None and uow.zones.get(zone_id) is None:
            raise NotFound(f"zone {zone_id!r} does not exist")
        contact_id = uow.maintainers.add(name, kind.value, target, zone_id, now)
        uow.audit.add(
            AuditEntry(
                at=now,
                actor=actor,
                action="maintainer.added",
                detail={"name": name, "channel": kind.value, "to": target, "zone": zone_id},
            )
        )
        uow.commit()
    return {
        "id": contact_id,
        "name": name,
        "channel": kind.value,
        "target": target,
        "zone_id": zone_id,
        "active": True,
    }


def remove_contact(uow: UnitOfWork, contact_id: int, actor: str, now: datetime) -> None:
    """Remove a contact (notifications already written are still delivered)."""
    with uow:
        if not uow.maintainers.remove(contact_id):
            raise NotFound(f"maintainer contact {contact_id} does not exist")
        uow.audit.add(
            AuditEntry(at=now, actor=actor, action="maintainer.removed", detail={"id": contact_id})
        )
        uow.commit()


def contacts(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Every maintainer contact."""
    with uow:
        rows = uow.maintainers.list()
    return [
        {
            "id": r.id,
            "name": r.name,
            "channel": r.channel,
            "target": r.target,
            "zone_id": r.zone_id,
            "active": r.active,
            "created_at": iso(r.created_at),
        }
        for r in rows
    ]


def notify_ticket(
    uow: UnitOfWork, ticket: MaintenanceTicket, what: str, now: datetime
) -> list[Notification]:
    """Write a notification to each of the unit's maintainers, in the caller's transaction."""
    if ticket.incident_id is None:
        # The outbox sends incident facts; every fault ticket has an incident, but be safe.
        log.warning("ticket %s has no incident; maintainers not notified", ticket.ref)
        return []
    unit = uow.units.get(ticket.unit_id)
    zone = unit.zone_id if unit is not None else None
    rows = uow.maintainers.active_for_zone(zone)
    where = f"{unit.name} ({ticket.unit_id})" if unit is not None else ticket.unit_id
    message = f"{WHAT[what]}: {ticket.ref} {ticket.fault} at {where}"
    if ticket.detail:
        message += f": {ticket.detail}"
    if what == "fixed" and ticket.fixed_by:
        message += f" (fixed by {ticket.fixed_by})"
    if what == "verified" and ticket.verified_by:
        message += f" (verified by {ticket.verified_by})"
    created = []
    for row in rows:
        notification = Notification(
            incident_id=ticket.incident_id,
            kind=ActionKind.MAINTENANCE,
            channel=Channel(row.channel),
            target=row.target,
            message=message[:2000],
            idempotency_key=uuid.uuid4().hex,
            created_at=now,
            created_by=MAINTAINERS_ACTOR,
            next_attempt_at=now,
        )
        uow.notifications.add(notification)
        created.append(notification)
    if created:
        uow.flush()
        # Imported here: services.notifications imports the ingest path, which imports us.
        from helppoint.services.views import notification_view

        for notification in created:
            uow.publish_after_commit(Topic.NOTIFICATIONS, notification_view(notification))
    return created
