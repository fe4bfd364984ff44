"""A commissioning test of a new unit: the whole path a real alarm takes (press → console →
trigger plan → notifications → police view), done as test activity (domain/triage.py
is_test) so that it is marked as a test everywhere and left out of reports and SLA figures.
Which steps passed is derived from what is stored, never recorded by hand. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from helppoint.domain.model import Incident
from helppoint.domain.notifications import Notification, NotificationStatus
from helppoint.domain.police import PoliceResponse

#: How long a unit stays on test for its commissioning (minutes).
COMMISSIONING_MINUTES = 60
#: Why the unit is on test, as the console and the supervisors' list show it.
COMMISSIONING_REASON = "commissioning test"


@dataclass(frozen=True)
class Step:
    """One step of the path and whether the test got through it."""

    name: str
    passed: bool
    detail: str


def _at(when: datetime | None) -> str:
    return f"{when:%H:%M:%S} UTC" if when is not None else ""


def checklist(
    incident: Incident | None,
    notifications: Sequence[Notification],
    police: PoliceResponse | None,
    test_prefix: str,
) -> list[Step]:
    """The steps of a commissioning test, from its incident (None: no press yet)."""
    if incident is None:
        return [Step("Button pressed: the press reached the server", False, "waiting for a press")]
    steps = [
        Step(
            "Button pressed: the press reached the server",
            True,
            f"{incident.ref} at {_at(incident.opened_at)}, marked as a test",
        ),
        Step(
            "Shown on the console and answered",
            incident.acknowledged_at is not None,
            f"by {incident.acknowledged_by} at {_at(incident.acknowledged_at)}"
            if incident.acknowledged_at
            else "acknowledge it on the console",
        ),
        Step(
            "Classified and escalated under the trigger plan",
            incident.escalated_at is not None,
            f"{incident.classification.label if incident.classification else ''} at "
            f"{_at(incident.escalated_at)}"
            if incident.escalated_at
            else "classify it (as a real alarm would be) and escalate",
        ),
    ]
    sent = [n for n in notifications if n.channel.automatic and n.target]
    delivered = [n for n in sent if n.status is NotificationStatus.DELIVERED]
    marked = all(n.message.startswith(test_prefix) for n in sent)
    if not sent:
        detail = "no notification was sent yet"
    else:
        detail = f"{len(delivered)} of {len(sent)} delivered" + (
            ", each marked as a test" if marked else ", NOT all marked as a test"
        )
        failing = [n for n in sent if n.status is not NotificationStatus.DELIVERED]
        if failing:
            detail += "; " + "; ".join(
                f"{n.channel.value} to {n.target}: {n.last_error or n.status.value}"
                for n in failing
            )
    steps.append(
        Step(
            "Notifications delivered", bool(sent) and len(delivered) == len(sent) and marked, detail
        )
    )
    if police is None:
        police_detail = (
            "the plan notified no police for this classification"
            if incident.escalated_at
            else "escalate first"
        )
    elif police.acknowledged_at is None:
        police_detail = "waiting for the police view's acknowledgement"
    else:
        police_detail = (
            f"by {police.acknowledged_by} at {_at(police.acknowledged_at)}, "
            f"reference {police.cad_reference}"
        )
    steps.append(
        Step(
            "Seen and acknowledged in the police view",
            police is not None and police.acknowledged_at is not None,
            police_detail,
        )
    )
    steps.append(
        Step(
            "Closed",
            incident.closed_at is not None,
            f"at {_at(incident.closed_at)}" if incident.closed_at else "close it when done",
        )
    )
    return steps


def passed(steps: Sequence[Step]) -> bool:
    """Whether the whole path worked."""
    return bool(steps) and len(steps) > 1 and all(step.passed for step in steps)
