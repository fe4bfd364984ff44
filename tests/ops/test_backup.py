"""`helppoint backup` under load and `helppoint restore` into a fresh database, on SQLite and
PostgreSQL: every acknowledged press is back, the audit chain and the evidence verify; a bad
or tampered backup is refused and changes nothing."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from helppoint import cli
from helppoint.backup.manifest import sha256_file
from helppoint.config import Settings
from helppoint.domain.calls import EndReason
from helppoint.domain.events import EventType
from helppoint.services import calls as call_service
from helppoint.services import incidents
from helppoint.services.ingest import ReportedEvent, handle_device_events
from helppoint.sim.fleet import Fleet
from helppoint.store import tables as t
from helppoint.store.database import make_engine
from helppoint.store.sealed import sealer_for
from tests.conftest import PG_ADMIN_URL, Database, LiveServer, start_server


@dataclass
class Installation:
    """Where an installation keeps things: its database URL and recordings directory."""

    url: str
    recordings: Path

    def env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("HELPPOINT_DATABASE_URL", self.url)
        monkeypatch.setenv("HELPPOINT_RECORDINGS_DIR", str(self.recordings))

    def settings(self) -> Settings:
        return Settings().with_values(
            {"database_url": self.url, "recordings_dir": str(self.recordings)}
        )


@pytest.fixture
def fresh(database: Database, tmp_path: Path) -> Iterator[Installation]:
    """An empty installation of the same kind to restore into (PostgreSQL: a new database,
    using the source's schema name)."""
    if database.kind == "sqlite":
        yield Installation(
            f"sqlite:///{tmp_path / 'restored' / 'helppoint.sqlite'}",
            tmp_path / "restored" / "recordings",
        )
        return
    name = f"r_{uuid.uuid4().hex[:12]}"
    schema = dict(make_url(database.url).query)["options"].split("=", 1)[1]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name, query={"options": f"-csearch_path={schema}"})
    try:
        yield Installation(
            url.render_as_string(hide_password=False), tmp_path / "restored-recordings"
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def add_recording(database: Database, recordings: Path) -> None:
    """A finished call of HP-08 with its recording file (evidence the backup must carry)."""
    uow = database.uow()
    with uow:
        [result] = handle_device_events(
            uow,
            [ReportedEvent("HP-08", 1, EventType.ACTIVATION, datetime.now(UTC), {})],
            datetime.now(UTC),
            timedelta(minutes=5),
        )
        uow.commit()
    assert result.incident_id is not None
    incidents.acknowledge(database.uow(), result.incident_id, "olive")
    call = call_service.call_started(
        database.uow(), result.incident_id, "olive", talk=True, video=False, detail=""
    )
    media = recordings / "incident-000001" / "call-a.webm"
    media.parent.mkdir(parents=True, exist_ok=True)
    media.write_bytes(b"recorded media " * 1000)
    ended = datetime.now(UTC)
    call_service.call_ended(
        database.uow(),
        call["id"],
        EndReason.HANGUP,
        "olive",
        call_service.RecordingFile(
            "incident-000001/call-a.webm",
            ended - timedelta(seconds=30),
            ended,
            30.0,
            media.stat().st_size,
            sha256_file(media),
            "audio/webm",
        ),
        timedelta(days=31),
    )


def stored_events(url: str) -> set[tuple[str, int]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            e = t.device_events.c
            return {(u, int(s)) for u, s in connection.execute(select(e.unit_id, e.seq))}
    finally:
        engine.dispose()


@pytest.fixture
def source(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[LiveServer, Installation]]:
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    server, stop = start_server(
        database, {"recordings_dir": str(recordings), "press_listen": False}
    )
    installation = Installation(database.url, recordings)
    add_recording(database, recordings)
    sealer_for(installation.settings())  # the credentials key file (SQLite: beside the database)
    installation.env(monkeypatch)
    try:
        yield server, installation
    finally:
        stop()


def test_backup_under_load_restores_every_acknowledged_press(
    source: tuple[LiveServer, Installation],
    fresh: Installation,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, _ = source
    acked: list[tuple[str, int]] = []
    credentials = [(u.unit_id, u.key) for u in server.units if u.unit_id != "HP-08"]
    backup = tmp_path / "backup"

    async def pressing_while_backing_up() -> tuple[set[tuple[str, int]], int]:
        loop = asyncio.get_running_loop()
        enough = asyncio.Event()

        def on_ack(unit: str, seq: int, status: str) -> None:
            acked.append((unit, seq))
            if len(acked) >= 50:
                loop.call_soon_threadsafe(enough.set)

        fleet = Fleet(server.device_url, credentials, on_ack=on_ack)
        await fleet.start()
        await fleet.wait_connected(timeout=60)
        stop = asyncio.Event()

        async def press() -> None:
            n = 0
            while not stop.is_set():
                fleet.press(credentials[n % len(credentials)][0])
                n += 1
                await asyncio.sleep(0.01)

        presser = asyncio.create_task(press())
        waiting = asyncio.create_task(enough.wait())
        await asyncio.wait([waiting, presser], return_when=asyncio.FIRST_COMPLETED)
        assert not presser.done(), presser.exception()
        before = set(acked)
        code = await asyncio.to_thread(cli.main, ["backup", str(backup)])
        stop.set()
        await presser
        await fleet.wait_all_acked(timeout=60)
        await fleet.stop()
        return before, code

    before, code = asyncio.run(pressing_while_backing_up())
    assert code == 0
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["counts"]["recordings"] == 1
    assert any(f["path"].endswith("call-a.webm") for f in manifest["files"])

    fresh.env(monkeypatch)
    assert cli.main(["restore", str(backup)]) == 0
    restored = stored_events(fresh.url)
    assert before <= restored, (
        f"acknowledged before the backup but not restored: {sorted(before - restored)[:5]}"
    )
    assert ("HP-08", 1) in restored
    assert (
        fresh.recordings / "incident-000001" / "call-a.webm"
    ).read_bytes() == b"recorded media " * 1000
    # Independently of the restore's own checks: the restored audit chain and recordings verify.
    assert cli.main(["audit", "verify"]) == 0
    assert cli.main(["recordings", "verify"]) == 0


def _rehash(backup: Path, relative: str) -> None:
    manifest = json.loads((backup / "manifest.json").read_text())
    for entry in manifest["files"]:
        if entry["path"] == relative:
            entry["sha256"] = sha256_file(backup / relative)
            entry["size"] = (backup / relative).stat().st_size
    (backup / "manifest.json").write_text(json.dumps(manifest))


def _untouched(fresh: Installation, database: Database) -> None:
    assert not fresh.recordings.exists()
    if database.kind == "sqlite":
        path = Path(fresh.url.removeprefix("sqlite:///"))
        assert (
            not path.exists()
            or not sqlite3.connect(path).execute("SELECT * FROM sqlite_master").fetchall()
        )
        assert not list(path.parent.glob(".*restore*"))
    else:
        engine = make_engine(fresh.url)
        with engine.connect() as connection:
            assert connection.scalar(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")
            ) in (0, None)
        engine.dispose()


def test_bad_and_tampered_backups_are_refused_and_change_nothing(
    source: tuple[LiveServer, Installation],
    fresh: Installation,
    database: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = tmp_path / "good"
    assert cli.main(["backup", str(good)]) == 0
    recording = "files/recordings/incident-000001/call-a.webm"
    database_file = json.loads((good / "manifest.json").read_text())["database_file"]
    if database.kind == "postgresql" or database.kind == "postgres":
        # The target's schema exists already (as `public` does in a fresh database).
        engine = make_engine(fresh.url)
        schema = dict(make_url(fresh.url).query)["options"].split("=", 1)[1]
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()

    def tampered(name: str) -> Path:
        copy = tmp_path / name
        shutil.copytree(good, copy)
        return copy

    cases: dict[str, tuple[Path, str]] = {}
    one = tampered("changed-recording")
    (one / recording).write_bytes(b"X" * 15000)  # same size, other content
    cases["a recording changed"] = (one, "SHA-256 differs")
    two = tampered("changed-and-rehashed")
    (two / recording).write_bytes(b"forged media")
    _rehash(two, recording)
    cases["a recording changed, manifest rehashed"] = (two, "recording 1")
    three = tampered("changed-database")
    with (three / database_file).open("r+b") as handle:
        handle.seek(2000)
        handle.write(b"\x00\xff\x00\xff")
    cases["the database changed"] = (three, database_file)
    four = tampered("added-file")
    (four / "files" / "extra.sh").write_text("#!/bin/sh\n")
    cases["a file added"] = (four, "not in the manifest")
    five = tampered("escaping-path")
    manifest = json.loads((five / "manifest.json").read_text())
    manifest["files"][0]["path"] = "../../etc/passwd"
    (five / "manifest.json").write_text(json.dumps(manifest))
    cases["a path out of the backup"] = (five, "not a plain relative path")
    six = tampered("not-json")
    (six / "manifest.json").write_text("{" * 100_000)
    cases["a manifest that is not JSON"] = (six, "cannot be read as JSON")
    cases["no backup at all"] = (tmp_path / "nothing-here", "not a helppoint backup")
    if database.kind == "sqlite":
        seven = tampered("audit-rewritten")
        db = sqlite3.connect(seven / database_file)
        db.execute("UPDATE audit_entries SET actor = 'mallory' WHERE seq = 2")
        db.commit()
        db.close()
        _rehash(seven, database_file)
        cases["an audit entry rewritten, manifest rehashed"] = (seven, "audit trail is broken")

    fresh.env(monkeypatch)
    for what, (backup, reason) in cases.items():
        capsys.readouterr()
        assert cli.main(["restore", str(backup)]) == 1, what
        error = capsys.readouterr().err
        assert "restore refused, nothing changed" in error and reason in error, (what, error)
        _untouched(fresh, database)

    # The good one restores; a second restore into the now used database is refused.
    assert cli.main(["restore", str(good)]) == 0
    capsys.readouterr()
    assert cli.main(["restore", str(good)]) == 1
    assert "not empty" in capsys.readouterr().err
