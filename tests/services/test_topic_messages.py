"""What the use cases publish has each topic's declared shape (helppoint/topics.py).

One walk through the scheme's life on a real database — a press, its handling, an escalation
with a failed delivery and the police, a close, an alarm left waiting, a unit going down and
coming back, a revoked unit, a camera, a self-test, a refused SIP call — with a unit of work
that keeps what it publishes; every message is checked against its topic's shape.
tests/unit/test_topics.py checks those built outside a unit of work.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from helppoint.domain.classification import Classification
from helppoint.domain.events import EventType
from helppoint.domain.notifications import RetryPolicy
from helppoint.services import (
    cameras,
    incidents,
    notifications,
    plans,
    police,
    selftest,
    sip_units,
    sla,
    supervision,
    units,
)
from helppoint.services.ingest import ReportedEvent, handle_device_events
from helppoint.services.seed import seed_demo
from helppoint.store.database import make_session_factory
from helppoint.store.sealed import Sealer
from helppoint.store.uow import UnitOfWork
from helppoint.topics import Topic
from tests.conftest import Database
from tests.topic_shapes import check

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)

PLAN = """\
plan: Town centre
zone: town-centre
police:
  urn: NP-2026-0042
  phone: "101"
rules:
  - when: imminent_threat
    actions:
      - notify: council_safeguarding
        channel: email
        to: safeguarding@council.example
        template: "{ref}: {classification} at {unit_name}"
        ack_within: 600
      - notify: supervisor
        channel: console
        template: "{ref}: police notified"
"""


def press(uow: UnitOfWork, unit_id: str, at: datetime) -> int:
    with uow:
        [result] = handle_device_events(
            uow, [ReportedEvent(unit_id, 1, EventType.ACTIVATION, at, {})], at, timedelta(minutes=5)
        )
        uow.commit()
    assert result.incident_id is not None
    return result.incident_id


def test_every_message_a_use_case_publishes_has_its_topics_shape(
    sqlite_database: Database,
) -> None:
    published: list[tuple[str, Any]] = []
    session_factory = make_session_factory(sqlite_database.engine)

    def uow() -> UnitOfWork:
        return UnitOfWork(
            session_factory, lambda topic, message: published.append((topic, message))
        )

    seed_demo(uow())
    plans.import_plan(uow(), PLAN, "admin")
    with uow() as unit_of_work:
        supervision.set_supervision(unit_of_work, "HP-02", 10, 8, "test")
        unit_of_work.commit()

    # A press, handled, escalated (one delivery fails for good), the police called, closed.
    incident_id = press(uow(), "HP-06", T0)
    incidents.acknowledge(uow(), incident_id, "olive")
    incidents.classify(uow(), incident_id, Classification.IMMINENT_THREAT, "olive")
    escalated = notifications.escalate(uow(), incident_id, "olive")
    [email] = [n for n in escalated["notifications"] if n["channel"] == "email"]
    notifications.record_failure(uow(), email["id"], "refused", False, T0, RetryPolicy())
    police.police_called(uow(), incident_id, "olive")
    incidents.close(uow(), incident_id, "olive", "handled")

    # An alarm nobody acknowledges.
    press(uow(), "HP-01", T0)
    sla.alert_unacknowledged(uow(), T0 + timedelta(minutes=5), timedelta(seconds=30))

    # A unit goes silent, then is heard again.
    with uow() as unit_of_work:
        unit_of_work.units.touch(["HP-02"], T0)
        unit_of_work.commit()
    assert supervision.sweep(uow(), T0 + timedelta(seconds=20)).down == ["HP-02"]
    with uow() as unit_of_work:
        unit_of_work.units.touch(["HP-02"], T0 + timedelta(seconds=30))
        unit_of_work.commit()
    assert supervision.sweep(uow(), T0 + timedelta(seconds=31)).up == ["HP-02"]

    units.revoke_unit(uow(), "HP-03", "admin")
    details = cameras.CameraDetails(name="Market", rtsp_url="rtsp://192.0.2.9/stream")
    cameras.register_camera(uow(), Sealer(secrets.token_bytes(32)), "CAM-1", details, "admin")
    selftest.mark_sent(uow(), selftest.Run("HP-04", "st-1"), True, "", T0)
    refusal = {"event": "refused", "reason": "bad password", "address": "192.0.2.7"}
    assert sip_units.record_sip_refusal(uow(), refusal)

    for topic, message in published:
        check(topic, message)
    assert {topic for topic, _ in published} == {
        Topic.INCIDENTS,
        Topic.NOTIFICATIONS,
        Topic.SUPERVISOR_ALERT,
        Topic.POLICE,
        Topic.UNIT_RESET,
        Topic.SLA_ALERT,
        Topic.SUPERVISION,
        Topic.MAINTENANCE,
        Topic.UNIT_KEY,
        Topic.CAMERAS,
        Topic.SELF_TEST,
    }
    alerts = [m["kind"] for t, m in published if t == Topic.SUPERVISOR_ALERT]
    assert alerts == ["delivery_failed", "sip_refused"]
