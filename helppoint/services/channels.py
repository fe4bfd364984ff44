"""The notification channels a scheme has configured, how each is doing, and test messages.

A channel here is one destination: an email address or a webhook URL named in an active
trigger plan or a maintainer contact. Its health comes from the outbox: when a message to it
was last delivered, whether the latest attempt failed and since when, and how many wait.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from helppoint.domain.errors import InvalidInput
from helppoint.domain.model import AuditEntry
from helppoint.domain.plans import Channel
from helppoint.notify.base import DeliveryFailed
from helppoint.notify.email import smtp_settings
from helppoint.notify.probe import send_test_email, send_test_webhook
from helppoint.services import maintainers
from helppoint.services.clock import utcnow
from helppoint.services.plan_yaml import read_plan
from helppoint.store.uow import UnitOfWork

#: Channels a test message can be sent through.
TESTABLE = (Channel.EMAIL, Channel.WEBHOOK)


@dataclass
class ChannelHealth:
    """One configured destination and what the outbox knows of it."""

    channel: str
    target: str
    used_by: list[str] = field(default_factory=list)
    last_delivered_at: datetime | None = None
    last_failed_at: datetime | None = None
    last_error: str = ""
    waiting: int = 0
    given_up: int = 0

    @property
    def state(self) -> str:
        """ "failing", "ok" or "unused yet" (nothing sent to it so far)."""
        if self.last_failed_at is not None and (
            self.last_delivered_at is None or self.last_failed_at > self.last_delivered_at
        ):
            return "failing"
        return "ok" if self.last_delivered_at is not None else "unused yet"

    @property
    def testable(self) -> bool:
        return self.channel in TESTABLE


def configured_channels(uow: UnitOfWork) -> list[ChannelHealth]:
    """Every destination of the active plans and maintainer contacts, with its health."""
    found: dict[tuple[str, str], ChannelHealth] = {}

    def use(channel: str, target: str, by: str) -> None:
        entry = found.setdefault((channel, target), ChannelHealth(channel, target))
        if by not in entry.used_by:
            entry.used_by.append(by)

    with uow:
        for stored in uow.plans.list():
            plan = read_plan(stored.source)
            for rule in plan.rules:
                for action in rule.actions:
                    # A phone call is made by a person (the checklist), not sent.
                    if action.target and action.channel.automatic:
                        use(
                            action.channel.value,
                            action.target,
                            f"{stored.scope.value} {stored.target_id} plan: {action.kind.label}",
                        )
        rows = uow.notifications.delivery_by_recipient()
        stats = {(Channel(r[0]).value, r[1]): r for r in rows}
        failing = uow.notifications.failed_attempts()
    for contact in maintainers.contacts(uow):
        use(contact["channel"], contact["target"], f"maintainer {contact['name']}")
    for (channel, target), entry in found.items():
        row = stats.get((channel, target))
        if row is not None:
            entry.last_delivered_at = row[2]
            entry.waiting, entry.given_up = int(row[3] or 0), int(row[4] or 0)
    for failure in failing:
        key = (Channel(failure[0]).value, failure[1])
        if key in found:
            found[key].last_failed_at = failure[4]
            found[key].last_error = failure[2]
    return sorted(found.values(), key=lambda c: (c.channel, c.target))


async def send_test(
    uow_factory: Any, settings: Any, channel: str, target: str, actor: str, address: str | None
) -> str:
    """Send a test message now through an email address or webhook URL; audited with its
    outcome. The text says what happened; InvalidInput when it could not be sent."""
    try:
        kind = Channel(channel)
    except ValueError:
        kind = None
    if kind not in TESTABLE:
        raise InvalidInput("a test message can be sent by email or to a webhook")
    assert kind is not None
    _, kind, target = maintainers.check_contact("test", kind.value, target)
    now = utcnow()
    error = ""
    try:
        if kind is Channel.EMAIL:
            await send_test_email(smtp_settings(settings), target, actor, now)
            done = f"Test email sent to {target} through {settings.smtp_host}:{settings.smtp_port}."
        else:
            status = await send_test_webhook(target, actor, now)
            done = f"Test message posted to {target}: HTTP {status}."
    except DeliveryFailed as exc:
        error = str(exc)
    uow = uow_factory()
    with uow:
        uow.audit.add(
            AuditEntry(
                at=now,
                actor=actor,
                action="channel.tested",
                detail={"channel": kind.value, "to": target, "ok": not error, "error": error},
                address=address,
            )
        )
        uow.commit()
    if error:
        raise InvalidInput(f"the test message to {target} could not be sent: {error}")
    return done
