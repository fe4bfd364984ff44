"""Make an upgrade fixture: a SQLite database of this release's schema, with data.

Run it with the release whose schema the fixture keeps first on the path::

    PYTHONPATH=/path/to/that/release python tests/ops/upgrade/make_fixture.py OUT.sqlite

It uses only services that release 0010 (commit 88745b9) already had, through the same calls
a running server makes: the demo scheme, presses, repeat presses, tamper and fault reports,
heartbeats, an operator's sign-in, incidents acknowledged, noted, called (with a recording's
record), classified, escalated under the zone's trigger plan (a police notification in the
outbox) and closed, a camera still and a self-test run. tests/ops/test_upgrade.py migrates the
result to the current schema on SQLite and PostgreSQL and checks that nothing was lost.
"""

from __future__ import annotations

import io
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image

from helppoint.domain.calls import EndReason
from helppoint.domain.events import EventType
from helppoint.domain.model import Classification, Role
from helppoint.services import calls, incidents, notifications, operators, plans, selftest, stills
from helppoint.services.ingest import ReportedEvent, handle_device_events
from helppoint.services.seed import seed_demo
from helppoint.store.database import make_engine, make_session_factory
from helppoint.store.migrate import current_revision, upgrade
from helppoint.store.uow import UnitOfWork

JOIN_WINDOW = timedelta(minutes=5)


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 60, 200)).save(out, "JPEG")
    return out.getvalue()


def make(path: Path) -> str:
    """Fill a new database at ``path``; the schema revision it was made with."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    factory = make_session_factory(engine)

    def uow() -> UnitOfWork:
        return UnitOfWork(factory)

    seed_demo(uow())
    plans.ensure_demo_plans(uow)
    operators.add_operator(uow(), "olive", "olive-operator-1", Role.OPERATOR, "Olive Operator")
    operators.add_operator(uow(), "sam", "sam-supervisor-1", Role.SUPERVISOR, "Sam Supervisor")
    with uow() as u:
        olive = u.operators.by_username("olive")
        assert olive is not None
        operators.open_session(u, olive, timedelta(hours=12), "10.0.0.7")
        u.commit()

    seqs: dict[str, int] = {}

    def report(unit: str, kind: EventType, payload: dict[str, object] | None = None) -> int:
        seqs[unit] = seqs.get(unit, 0) + 1
        with uow() as u:
            [result] = handle_device_events(
                u,
                [ReportedEvent(unit, seqs[unit], kind, datetime.now(UTC), payload or {})],
                datetime.now(UTC),
                JOIN_WINDOW,
            )
            u.commit()
        assert result.incident_id is not None or kind is EventType.HEARTBEAT, result
        return result.incident_id or 0

    for unit in ("HP-01", "HP-02", "HP-03", "HP-04", "HP-05", "HP-06", "HP-07", "HP-08"):
        report(unit, EventType.HEARTBEAT, {"light": "ok", "camera": "ok", "speaker": "ok"})
    false_alarm = report("HP-01", EventType.ACTIVATION)
    assert report("HP-01", EventType.ACTIVATION) == false_alarm  # a repeat press joins it
    genuine = report("HP-03", EventType.ACTIVATION)
    called = report("HP-05", EventType.ACTIVATION)
    report("HP-06", EventType.TAMPER, {"detail": "door opened"})
    report("HP-07", EventType.FAULT, {"component": "light", "detail": "lamp open circuit"})
    waiting = report("HP-08", EventType.ACTIVATION)  # left new: still in the queue

    stills.store_still(uow(), "HP-03", seqs["HP-03"], datetime.now(UTC), _jpeg())

    incidents.acknowledge(uow(), false_alarm, "olive", "10.0.0.7")
    incidents.add_note(uow(), false_alarm, "Children playing; nobody there.", "olive")
    incidents.close(
        uow(), false_alarm, "olive", "no one on camera", Classification.FALSE_ACCIDENTAL
    )

    incidents.acknowledge(uow(), genuine, "olive", "10.0.0.7")
    incidents.classify(uow(), genuine, Classification.IMMINENT_THREAT, "olive")
    notifications.escalate(uow(), genuine, "olive", "10.0.0.7")
    incidents.add_note(uow(), genuine, "Caller followed by two men; police informed.", "olive")

    incidents.acknowledge(uow(), called, "sam")
    call = calls.call_started(uow(), called, "sam", talk=True, video=True, detail="")
    ended = datetime.now(UTC)
    calls.call_ended(
        uow(),
        call["id"],
        EndReason.HANGUP,
        "sam",
        calls.RecordingFile(
            "incident-000003/call-1.webm",
            ended - timedelta(seconds=42),
            ended,
            42.0,
            123456,
            "ab" * 32,
            "video/webm",
        ),
        timedelta(days=31),
    )
    incidents.close(uow(), called, "sam", "lost, directed to the station", Classification.CONCERN)

    run = selftest.request_run(uow(), "HP-02", "sam", datetime.now(UTC))
    selftest.mark_sent(uow(), run, True, "", datetime.now(UTC))

    assert waiting
    revision = current_revision(engine)
    engine.dispose()
    with sqlite3.connect(path) as connection:  # one file, no WAL beside it, no free pages
        connection.execute("PRAGMA journal_mode=DELETE")
        connection.execute("VACUUM")
    assert revision is not None
    return revision


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_fixture.py OUT.sqlite")
    out = Path(sys.argv[1])
    if out.exists():
        sys.exit(f"{out} exists; give a new file")
    print(f"{out}: schema {make(out)}")
