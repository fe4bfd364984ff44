"""Escalation under the trigger plan, and the outbox use cases the delivery worker calls.

`escalate` writes the incident's state change, its notifications and the audit entry in one
transaction (the outbox pattern): either all of them are committed or none. The worker then
claims due notifications, delivers them and records the outcome, each in its own transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from helppoint.domain.errors import InvalidInput, InvalidTransition, NotFound
from helppoint.domain.model import AuditEntry, HelpPoint, Incident, IncidentState
from helppoint.domain.notifications import Notification, NotificationStatus, RetryPolicy
from helppoint.domain.plans import Action, ActionKind
from helppoint.notify.base import IncidentFacts
from helppoint.services.clock import utcnow
from helppoint.services.plans import active_plan
from helppoint.services.views import incident_view, iso, notification_view
from helppoint.store.uow import UnitOfWork
from helppoint.topics import DeliveryAlert, NotificationMessage, Topic

OUTBOX_ACTOR = "system:outbox"
#: Starts every notification about test activity (a unit on test or being commissioned).
TEST_PREFIX = "TEST, NO ACTION NEEDED: "


def _template_values(
    incident: Incident, unit: HelpPoint, operator: str, police_urn: str
) -> dict[str, Any]:
    return {
        "ref": incident.ref,
        "unit_id": unit.id,
        "unit_name": unit.name,
        "zone": unit.zone_id,
        "classification": incident.classification.label if incident.classification else "",
        "latitude": f"{unit.latitude:.6f}",
        "longitude": f"{unit.longitude:.6f}",
        "opened_at": iso(incident.opened_at),
        "operator": operator,
        "police_urn": police_urn,
    }


def _notification(
    incident: Incident, action: Action, message: str, operator: str, now: datetime
) -> Notification:
    assert incident.id is not None
    return Notification(
        incident_id=incident.id,
        kind=action.kind,
        channel=action.channel,
        target=action.target,
        message=message,
        idempotency_key=uuid.uuid4().hex,
        created_at=now,
        created_by=operator,
        next_attempt_at=now,
        deadline_at=now + action.ack_within if action.ack_within else None,
    )


def escalate(
    uow: UnitOfWork, incident_id: int, operator: str, address: str | None = None
) -> dict[str, Any]:
    """Escalate a classified incident under its unit's trigger plan.

    The plan's automatic actions for the classification become notifications in the outbox,
    committed with the escalation itself; telephone actions are left for the operator.
    """
    with uow:
        incident = uow.incidents.get_for_update(incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        if incident.state is IncidentState.ESCALATED:
            raise InvalidTransition(f"{incident.ref} is already escalated")
        if incident.classification is None:
            raise InvalidTransition(f"{incident.ref} must be classified before it is escalated")
        unit = uow.units.get(incident.unit_id)
        assert unit is not None
        active = active_plan(uow, unit)
        if active is None:
            raise InvalidInput(
                f"there is no trigger plan for unit {unit.id} or zone {unit.zone_id}: "
                "an administrator imports one at /admin/plans"
            )
        now = utcnow()
        actions = active.plan.actions_for(incident.classification, now)
        if not actions:
            raise InvalidInput(
                f"the plan {active.plan.name!r} has no actions for "
                f"{incident.classification.label} at this time"
            )
        incident.escalate(now)
        if any(a.kind is ActionKind.POLICE and a.channel.automatic for a in actions):
            from helppoint.services.police import start_police_response

            response = start_police_response(uow, incident, operator, now)
        else:
            response = None
        police_urn = active.plan.police.urn if active.plan.police else ""
        values = _template_values(incident, unit, operator, police_urn)
        created = []
        for action in actions:
            if action.channel.automatic:
                message = action.message(values)
                if incident.on_test:  # test activity: no one may mistake it for an alarm
                    message = f"{TEST_PREFIX}{message}"
                notification = _notification(incident, action, message, operator, now)
                uow.notifications.add(notification)
                created.append(notification)
        uow.flush()
        uow.audit.add(
            AuditEntry(
                at=now,
                actor=operator,
                action="incident.escalated",
                incident_id=incident.id,
                address=address,
                detail={
                    "plan": active.plan.name,
                    "plan_version": active.stored.version,
                    "notifications": [n.id for n in created],
                    "manual_actions": [
                        {"notify": a.kind.value, "channel": a.channel.value, "to": a.target}
                        for a in actions
                        if not a.channel.automatic
                    ],
                },
            )
        )
        view = incident_view(incident, unit)
        uow.publish_after_commit(Topic.INCIDENTS, view)
        if response is not None:
            from helppoint.services.police import police_incident_view

            uow.publish_after_commit(
                Topic.POLICE, police_incident_view(uow, incident, unit, response)
            )
        for notification in created:
            uow.publish_after_commit(Topic.NOTIFICATIONS, notification_view(notification))
        uow.commit()
        return view | {"notifications": [notification_view(n) for n in created]}


def notifications_for(uow: UnitOfWork, incident_id: int) -> list[NotificationMessage]:
    """An incident's notifications with their delivery status."""
    with uow:
        if uow.incidents.get(incident_id) is None:
            raise NotFound(f"incident {incident_id} does not exist")
        return [notification_view(n) for n in uow.notifications.for_incident(incident_id)]


# --- used by the outbox worker ---------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A notification claimed for delivery, with the facts its channel sends."""

    notification: Notification
    incident: IncidentFacts


def _facts(uow: UnitOfWork, notification: Notification) -> IncidentFacts:
    incident = uow.incidents.get(notification.incident_id)
    assert incident is not None and incident.id is not None
    unit = uow.units.get(incident.unit_id)
    assert unit is not None
    active = active_plan(uow, unit)
    return IncidentFacts(
        ref=incident.ref,
        incident_id=incident.id,
        unit_id=unit.id,
        unit_name=unit.name,
        zone=unit.zone_id,
        latitude=unit.latitude,
        longitude=unit.longitude,
        classification=incident.classification.value if incident.classification else "",
        classification_label=incident.classification.label if incident.classification else "",
        opened_at=incident.opened_at,
        operator=notification.created_by,
        police_urn=active.plan.police.urn if active and active.plan.police else "",
        state=incident.state.value,
        test=incident.on_test,
    )


def claim_due(uow: UnitOfWork, now: datetime, lease: timedelta, limit: int = 20) -> list[Claimed]:
    """Claim due notifications for delivery (each attempt counted when claimed)."""
    with uow.reading():  # most rounds find none: then no write lock is taken (SQLite)
        if not uow.notifications.any_due(now):
            return []
    with uow:
        ids = uow.notifications.claim_due(now, lease, limit)
        uow.commit()
    claimed = []
    with uow.reading():
        for notification_id in ids:
            notification = uow.notifications.get(notification_id)
            assert notification is not None
            claimed.append(Claimed(notification, _facts(uow, notification)))
    return claimed


def record_delivered(uow: UnitOfWork, notification_id: int, at: datetime) -> None:
    """The receiver accepted the notification."""
    with uow:
        notification = uow.notifications.get(notification_id)
        if notification is None or notification.status is not NotificationStatus.PENDING:
            return  # another worker recorded it first
        notification.delivered(at)
        uow.audit.add(
            AuditEntry(
                at=at,
                actor=OUTBOX_ACTOR,
                action="notification.delivered",
                incident_id=notification.incident_id,
                detail=_detail(notification),
            )
        )
        uow.publish_after_commit(Topic.NOTIFICATIONS, notification_view(notification))
        uow.commit()


def record_failure(
    uow: UnitOfWork,
    notification_id: int,
    error: str,
    retry: bool,
    at: datetime,
    policy: RetryPolicy,
) -> None:
    """A delivery attempt failed: schedule a retry with backoff, or give up and say so."""
    with uow:
        notification = uow.notifications.get(notification_id)
        if notification is None or notification.status is not NotificationStatus.PENDING:
            return
        incident = uow.incidents.get(notification.incident_id)
        closed_at = incident.closed_at if incident is not None else None
        failed = notification.attempt_failed(error, at, policy, retry, closed_at)
        uow.audit.add(
            AuditEntry(
                at=at,
                actor=OUTBOX_ACTOR,
                action="notification.failed" if failed else "notification.retry_scheduled",
                incident_id=notification.incident_id,
                detail=_detail(notification) | {"error": notification.last_error},
            )
        )
        view = notification_view(notification)
        uow.publish_after_commit(Topic.NOTIFICATIONS, view)
        if failed:
            uow.publish_after_commit(Topic.SUPERVISOR_ALERT, _alert("delivery_failed", view))
        uow.commit()


def alarm_overdue(uow: UnitOfWork, now: datetime) -> list[DeliveryAlert]:
    """Alarm the supervisors, once each, about notifications undelivered past their deadline."""
    with uow.reading():  # most rounds find none: then no write lock is taken (SQLite)
        if not uow.notifications.any_overdue(now):
            return []
    with uow:
        ids = uow.notifications.mark_overdue(now)
        alerts = []
        for notification_id in ids:
            notification = uow.notifications.get(notification_id)
            assert notification is not None
            uow.notifications.refresh(notification)
            uow.audit.add(
                AuditEntry(
                    at=now,
                    actor=OUTBOX_ACTOR,
                    action="notification.overdue",
                    incident_id=notification.incident_id,
                    detail=_detail(notification) | {"deadline_at": iso(notification.deadline_at)},
                )
            )
            view = notification_view(notification)
            alert = _alert("notification_overdue", view)
            uow.publish_after_commit(Topic.NOTIFICATIONS, view)
            uow.publish_after_commit(Topic.SUPERVISOR_ALERT, alert)
            alerts.append(alert)
        uow.commit()
        return alerts


def next_wake(uow: UnitOfWork) -> datetime | None:
    """When the worker next has something to do: a delivery or a deadline."""
    with uow.reading():
        times = [t for t in (uow.notifications.next_wake(), uow.notifications.next_deadline()) if t]
        return min(times) if times else None


def _detail(notification: Notification) -> dict[str, Any]:
    return {
        "notification_id": notification.id,
        "notify": notification.kind.value,
        "channel": notification.channel.value,
        "to": notification.target,
        "idempotency_key": notification.idempotency_key,
        "attempts": notification.attempts,
    }


def _alert(
    kind: Literal["delivery_failed", "notification_overdue"], view: NotificationMessage
) -> DeliveryAlert:
    return {
        "kind": kind,
        "incident_id": view["incident_id"],
        "message": f"{view['kind_label']} via {view['channel']} to {view['target'] or 'console'}: "
        + (
            "not delivered by its deadline" if kind == "notification_overdue" else "delivery failed"
        ),
        "notification": view,
    }
