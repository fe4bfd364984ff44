"""`helppoint recordings purge | verify` as a real subprocess."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from helppoint.domain.calls import EndReason
from helppoint.domain.events import EventType
from helppoint.services import calls as svc
from helppoint.services import incidents
from helppoint.services.ingest import ReportedEvent, handle_device_events
from helppoint.services.seed import seed_demo
from helppoint.store.database import make_engine, make_session_factory
from helppoint.store.migrate import upgrade
from helppoint.store.uow import UnitOfWork
from tests.cli import inprocess


def helppoint(db: Path, recordings: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return inprocess.run(
        [*args, "--database-url", f"sqlite:///{db}"],
        env={"HELPPOINT_RECORDINGS_DIR": str(recordings)},
    )


def add_recording(
    make: Callable[[], UnitOfWork], unit: str, recordings: Path, ended: datetime
) -> None:
    uow = make()
    with uow:
        [result] = handle_device_events(
            uow,
            [ReportedEvent(unit, 1, EventType.ACTIVATION, ended, {})],
            datetime.now(UTC),
            timedelta(minutes=5),
        )
        uow.commit()
    assert result.incident_id is not None
    incidents.acknowledge(make(), result.incident_id, "olive")
    call = svc.call_started(make(), result.incident_id, "olive", talk=True, video=False, detail="")
    name = f"{unit}.webm"
    data = f"media of {unit}".encode()
    (recordings / name).write_bytes(data)
    svc.call_ended(
        make(),
        call["id"],
        EndReason.HANGUP,
        "olive",
        svc.RecordingFile(
            name, ended, ended, 1.0, len(data), hashlib.sha256(data).hexdigest(), "video/webm"
        ),
        timedelta(days=31),
    )


def test_purge_and_verify(tmp_path: Path) -> None:
    db = tmp_path / "calls.sqlite"
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    factory = make_session_factory(engine)

    def make() -> UnitOfWork:
        return UnitOfWork(factory)

    seed_demo(make())
    now = datetime.now(UTC)
    add_recording(make, "HP-01", recordings, now - timedelta(days=45))
    add_recording(make, "HP-02", recordings, now - timedelta(days=1))
    engine.dispose()

    verified = helppoint(db, recordings, "recordings", "verify")
    assert verified.returncode == 0 and "2 recording(s) checked, 0 with problems" in verified.stdout
    purged = helppoint(db, recordings, "recordings", "purge")
    assert purged.returncode == 0 and "deleted 1 recording(s) older than 31 days" in purged.stdout
    assert not (recordings / "HP-01.webm").exists() and (recordings / "HP-02.webm").exists()

    (recordings / "HP-02.webm").write_bytes(b"tampered")
    damaged = helppoint(db, recordings, "recordings", "verify")
    assert damaged.returncode == 1
    assert "checksum does not match" in damaged.stderr and "1 with problems" in damaged.stdout
