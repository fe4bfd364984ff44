"""Making a backup while the server runs (`helppoint backup DEST`)."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url

from helppoint import __version__
from helppoint.backup.manifest import (
    BackupError,
    FileEntry,
    Manifest,
    entry_for,
    safe_relative,
    sha256_file,
)
from helppoint.config import Settings
from helppoint.store import tables as t
from helppoint.store import tables_calls as tc
from helppoint.store import tables_cameras as tcam
from helppoint.store.database import make_engine
from helppoint.store.migrate import current_revision
from helppoint.store.recording_files import recordings_path
from helppoint.store.sealed import KEY_FILE, credentials_key_path

SQLITE_FILE = "database.sqlite"
POSTGRES_FILE = "database.pgdump"
#: Where the evidence files go in a backup, under their path relative to recordings_dir.
RECORDINGS = "files/recordings"
CREDENTIALS = f"files/{KEY_FILE}"


def make_backup(settings: Settings, dest: Path, pg_dump: str = "pg_dump") -> Manifest:
    """Back up the installation into the new directory `dest` (made whole, or not at all)."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} exists and is not an empty directory: choose a new one")
    engine = make_engine(settings.database_url)
    try:
        revision = current_revision(engine)
        if revision is None:
            raise BackupError("the database has no schema yet: nothing to back up")
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = dest.parent / f".{dest.name}.partial-{secrets.token_hex(4)}"
        staging.mkdir()
        try:
            manifest = _make(settings, engine, revision, staging, pg_dump)
            manifest.write(staging)
            if dest.exists():
                dest.rmdir()
            os.replace(staging, dest)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return manifest
    finally:
        engine.dispose()


def _make(
    settings: Settings, engine: Engine, revision: str, staging: Path, pg_dump: str
) -> Manifest:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    if engine.dialect.name == "sqlite":
        _sqlite_online_backup(str(engine.url.database), staging / SQLITE_FILE)
        # Read as a plain file: make_engine would switch the copy to WAL mode.
        snapshot = create_engine(f"sqlite:///{staging / SQLITE_FILE}")
        try:
            with snapshot.connect() as connection:
                counts, evidence = _counts(connection), _evidence(connection)
        finally:
            snapshot.dispose()
        manifest = Manifest(now, __version__, "sqlite", SQLITE_FILE, revision, counts=counts)
        files = [entry_for(staging, SQLITE_FILE)]
    else:
        with _exported_snapshot(engine) as (connection, snapshot_id, schema):
            _pg_dump(engine, pg_dump, snapshot_id, schema, staging / POSTGRES_FILE)
            counts, evidence = _counts(connection), _evidence(connection)
        manifest = Manifest(now, __version__, "postgresql", POSTGRES_FILE, revision, schema, counts)
        files = [entry_for(staging, POSTGRES_FILE)]
    files += _copy_evidence(recordings_path(settings), evidence, staging / RECORDINGS)
    if not settings.credentials_key:
        key = credentials_key_path(settings)
        if key.is_file():
            (staging / CREDENTIALS).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(key, staging / CREDENTIALS)
            os.chmod(staging / CREDENTIALS, 0o600)
            files.append(entry_for(staging, CREDENTIALS))
    manifest.files = files
    return manifest


def _sqlite_online_backup(source: str, target: Path) -> None:
    """SQLite's online backup API: a consistent copy while the server goes on writing (in WAL
    mode the copy is one read transaction; writers are not held up)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            # One self-contained file (no -wal beside it).
            dst.execute("PRAGMA journal_mode=DELETE")
            dst.commit()
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise BackupError(f"could not back up the SQLite database {source}: {exc}") from None
    finally:
        src.close()


@contextlib.contextmanager
def _exported_snapshot(engine: Engine) -> Iterator[tuple[Connection, str, str]]:
    """A repeatable-read transaction whose snapshot pg_dump shares: the dump, the counts and
    the list of evidence files are of one moment."""
    with engine.connect() as connection:
        connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        snapshot_id = connection.scalar(text("SELECT pg_export_snapshot()"))
        schema = connection.scalar(text("SELECT current_schema()"))
        assert isinstance(snapshot_id, str) and isinstance(schema, str)
        yield connection, snapshot_id, schema
        connection.rollback()


def libpq_target(engine: Engine) -> tuple[str, dict[str, str]]:
    """The database as a libpq URI without its password, and the environment that carries
    the password (never on a command line, where `ps` shows it)."""
    url = make_url(engine.url.render_as_string(hide_password=False))
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    uri = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, env


def _pg_dump(engine: Engine, pg_dump: str, snapshot: str, schema: str, target: Path) -> None:
    uri, env = libpq_target(engine)
    command = [pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--schema={schema}"]
    command += ["--no-owner", "--no-privileges", f"--file={target}", f"--dbname={uri}"]
    _run(command, env, "pg_dump")


def _run(command: list[str], env: dict[str, str], name: str) -> None:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BackupError(
            f"{command[0]} is not installed: install PostgreSQL's client tools "
            f"(Debian: postgresql-client) of the server's major version or newer"
        ) from None
    if done.returncode != 0:
        raise BackupError(f"{name} failed: {done.stderr.strip() or done.returncode}")


def _counts(connection: Connection) -> dict[str, int]:
    counts = {}
    for name, table in (
        ("incidents", t.incidents),
        ("device_events", t.device_events),
        ("audit_entries", t.audit_entries),
        ("recordings", tc.recordings),
        ("camera_clips", tcam.camera_clips),
    ):
        counts[name] = int(connection.scalar(select(func.count()).select_from(table)) or 0)
    return counts


def _evidence(connection: Connection) -> list[tuple[str, str, str]]:
    """(kind and id, path, sha256) of every evidence file the database refers to and keeps."""
    r, c = tc.recordings.c, tcam.camera_clips.c
    found = [
        (f"recording {rid}", path, sha)
        for rid, path, sha in connection.execute(
            select(r.id, r.path, r.sha256).where(r.purged_at.is_(None)).order_by(r.id)
        )
    ]
    found += [
        (f"clip {cid}", path, sha)
        for cid, path, sha in connection.execute(
            select(c.id, c.path, c.sha256)
            .where(c.purged_at.is_(None), c.path != "", c.state != "recording")
            .order_by(c.id)
        )
    ]
    return found


def _copy_evidence(
    source: Path, evidence: list[tuple[str, str, str]], target: Path
) -> list[FileEntry]:
    """Copy each file, checked against the hash the database keeps for it."""
    entries: list[FileEntry] = []
    damaged: list[str] = []
    for what, relative, sha in evidence:
        try:
            safe_relative(relative)
        except ValueError as exc:
            damaged.append(f"{what}: {exc}")
            continue
        origin = source / relative
        copy = target / relative
        if not origin.is_file():
            damaged.append(f"{what} ({relative}): file missing")
            continue
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(origin, copy)
        digest = sha256_file(copy)
        if digest != sha:
            damaged.append(f"{what} ({relative}): its SHA-256 is not the one recorded")
            continue
        name = f"{RECORDINGS}/{Path(relative).as_posix()}"
        entries.append(FileEntry(name, copy.stat().st_size, digest))
    if damaged:
        raise BackupError(
            "evidence on disk is damaged, so no backup was made (find out why first: "
            "`helppoint recordings verify`): " + "; ".join(damaged[:20])
        )
    return entries


def describe(manifest: Manifest) -> dict[str, Any]:
    """What a backup holds, for the command's report."""
    size = sum(entry.size for entry in manifest.files)
    return {"files": len(manifest.files), "bytes": size, **manifest.counts}
