"""Restoring a backup into a fresh installation (`helppoint restore SRC`), verified first."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError as AlembicError
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import SQLAlchemyError

from helppoint.backup.make import CREDENTIALS, RECORDINGS, _counts, _run, libpq_target
from helppoint.backup.manifest import BackupError, Manifest, check_files
from helppoint.config import Settings
from helppoint.services.audit import verify as verify_audit
from helppoint.services.calls import verify_recordings
from helppoint.services.camera_clips import verify_clips
from helppoint.store import tables_media as tm
from helppoint.store.database import make_engine, make_session_factory
from helppoint.store.migrate import alembic_config, current_revision, upgrade
from helppoint.store.recording_files import recordings_path
from helppoint.store.sealed import credentials_key_path
from helppoint.store.uow import UnitOfWork


@dataclass
class RestoreReport:
    """What was restored and what was checked."""

    database: str
    revision_from: str
    revision_to: str
    counts: dict[str, int] = field(default_factory=dict)
    audit_entries: int = 0
    recordings: int = 0
    clips: int = 0
    stills: int = 0
    prompts: int = 0
    files: int = 0


def restore_backup(settings: Settings, src: Path, pg_restore: str = "pg_restore") -> RestoreReport:
    """Restore the backup in `src` into the configured (fresh) database and data directories.

    The manifest is checked before anything is touched; the restored database is migrated to
    this release and verified (audit chain, every recording's, clip's, still's and prompt's
    SHA-256, the row counts) before it is put in place (SQLite) or kept (PostgreSQL).
    Anything wrong: BackupError, and the target is as it was.
    """
    manifest = Manifest.read(src)
    check_files(src, manifest)
    _check_revision_known(manifest.schema_revision)
    engine = make_engine(settings.database_url)
    try:
        kind = engine.dialect.name
        if manifest.database != kind:
            raise BackupError(
                f"this is a {manifest.database} backup; the configured database is {kind} "
                "(restore it into the same kind of database)"
            )
        recordings = recordings_path(settings)
        if recordings.exists() and (not recordings.is_dir() or any(recordings.iterdir())):
            raise BackupError(
                f"the recordings directory {recordings} is not empty: restore into a fresh "
                "installation (or move it aside)"
            )
        key_target = _key_target(settings, src, manifest)
        if kind == "sqlite":
            report = _restore_sqlite(engine, src, manifest, recordings, key_target)
        else:
            report = _restore_postgres(engine, src, manifest, recordings, key_target, pg_restore)
        report.files = len(manifest.files)
        return report
    finally:
        engine.dispose()


def _check_revision_known(revision: str) -> None:
    script = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://")))
    try:
        known = script.get_revision(revision)
    except (AlembicError, KeyError, ValueError):
        known = None
    if known is None:
        raise BackupError(
            f"the backup's schema revision {revision!r} is unknown to this release: it was "
            "made by a newer helppoint; restore it with that release or newer"
        )


def _key_target(settings: Settings, src: Path, manifest: Manifest) -> Path | None:
    if CREDENTIALS not in {entry.path for entry in manifest.files} or settings.credentials_key:
        return None  # a configured key is the administrator's to restore (from their vault)
    target = credentials_key_path(settings)
    if target.exists() and target.read_bytes() != (src / CREDENTIALS).read_bytes():
        raise BackupError(
            f"{target} exists with another key: restore into a fresh installation (camera "
            "passwords in the backup are sealed with the backup's key)"
        )
    return target


# ---- SQLite ------------------------------------------------------------------------------


def _restore_sqlite(
    engine: Engine, src: Path, manifest: Manifest, recordings: Path, key: Path | None
) -> RestoreReport:
    target = Path(str(engine.url.database))
    engine.dispose()
    if target.exists() and _sqlite_tables(target):
        raise BackupError(
            f"the database {target} is not empty: restore into a fresh database (set "
            "database_url to a new file)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.restore-{secrets.token_hex(4)}")
    placed: list[Path] = []
    try:
        shutil.copyfile(src / manifest.database_file, staging)
        _sqlite_integrity(staging)
        restored = make_engine(f"sqlite:///{staging}")
        try:
            report = _migrate_and_verify(restored, src, manifest, "sqlite")
        finally:
            restored.dispose()
        placed = _place_files(src, recordings, key)
        for stale in (
            target.with_name(target.name + "-wal"),
            target.with_name(target.name + "-shm"),
        ):
            stale.unlink(missing_ok=True)
        os.replace(staging, target)
        return report
    except BaseException:
        staging.unlink(missing_ok=True)
        for extra in (
            staging.with_name(staging.name + "-wal"),
            staging.with_name(staging.name + "-shm"),
        ):
            extra.unlink(missing_ok=True)
        _unplace(placed)
        raise


def _sqlite_tables(path: Path) -> int:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return int(
                db.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
            )
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} exists and is not an empty SQLite database: {exc}") from None


def _sqlite_integrity(path: Path) -> None:
    try:
        with contextlib.closing(sqlite3.connect(path)) as db:
            result = [row[0] for row in db.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"the backup's database is not a readable SQLite file: {exc}") from None
    if result != ["ok"]:
        raise BackupError(f"the backup's database fails SQLite's integrity check: {result[:5]}")


# ---- PostgreSQL --------------------------------------------------------------------------


def _restore_postgres(
    engine: Engine,
    src: Path,
    manifest: Manifest,
    recordings: Path,
    key: Path | None,
    pg_restore: str,
) -> RestoreReport:
    schema = manifest.schema or "public"
    with engine.connect() as connection:
        existed = bool(
            connection.scalar(
                text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"), {"s": schema}
            )
        )
        objects = connection.scalar(
            text(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :s"
            ),
            {"s": schema},
        )
        search_path = str(connection.scalar(text("SHOW search_path")))
    if objects:
        raise BackupError(
            f"schema {schema!r} of the configured database is not empty: restore into a fresh "
            "database"
        )
    names = [part.strip().strip('"') for part in search_path.split(",")]
    if schema not in names:
        raise BackupError(
            f"the backup is of schema {schema!r}, which the configured database URL does not "
            f"use (search_path {search_path}): add options=-csearch_path%3D{schema} to it"
        )
    uri, env = libpq_target(engine)
    dump = src / manifest.database_file
    placed: list[Path] = []
    try:
        with _restore_list(pg_restore, dump, env, schema, existed) as listing:
            command = [pg_restore, "--single-transaction", "--exit-on-error", "--no-owner"]
            command += ["--no-privileges", f"--use-list={listing}", f"--dbname={uri}", str(dump)]
            _run(command, env, "pg_restore")
        report = _migrate_and_verify(engine, src, manifest, "postgresql")
        placed = _place_files(src, recordings, key)
        return report
    except BaseException:
        _unplace(placed)
        _drop_restored(engine, schema, existed)
        raise


@contextlib.contextmanager
def _restore_list(
    pg_restore: str, dump: Path, env: dict[str, str], schema: str, existed: bool
) -> Iterator[Path]:
    """pg_restore's table of contents, without creating a schema that exists already (an
    empty `public` in a fresh database)."""
    try:
        listed = subprocess.run(
            [pg_restore, "--list", str(dump)], env=env, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise BackupError(f"{pg_restore} is not installed (Debian: postgresql-client)") from None
    if listed.returncode != 0:
        raise BackupError(f"the backup's dump cannot be read: {listed.stderr.strip()}")
    creates_schema = re.compile(rf"^\d+; \d+ \d+ SCHEMA - {re.escape(schema)} ")
    lines = [
        line for line in listed.stdout.splitlines() if not (existed and creates_schema.match(line))
    ]
    with tempfile.TemporaryDirectory(prefix="helppoint-restore-") as directory:
        path = Path(directory) / "list"
        path.write_text("\n".join(lines) + "\n")
        yield path


def _drop_restored(engine: Engine, schema: str, existed: bool) -> None:
    """Undo a restore into a schema that was empty: drop what it made."""
    with engine.begin() as connection:
        quoted = '"' + schema.replace('"', '""') + '"'
        if not existed:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {quoted} CASCADE"))
            return
        tables = connection.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": schema}
        ).all()
        for table in tables:
            connection.execute(text(f'DROP TABLE IF EXISTS {quoted}."{table}" CASCADE'))
        for kind, names in (
            ("SEQUENCE", "SELECT sequencename FROM pg_sequences WHERE schemaname = :s"),
            (
                "TYPE",
                "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                "WHERE n.nspname = :s AND t.typtype = 'e'",
            ),
        ):
            for name in connection.scalars(text(names), {"s": schema}).all():
                connection.execute(text(f'DROP {kind} IF EXISTS {quoted}."{name}" CASCADE'))


# ---- both --------------------------------------------------------------------------------


def _migrate_and_verify(
    engine: Engine, src: Path, manifest: Manifest, database: str
) -> RestoreReport:
    try:
        before = current_revision(engine) or "empty"
        if before != manifest.schema_revision:
            raise BackupError(
                f"the backup's database is at schema revision {before}, its manifest says "
                f"{manifest.schema_revision}"
            )
        upgrade(engine)
        after = current_revision(engine) or "empty"
        report = RestoreReport(database, before, after)
        _verify(engine, src / RECORDINGS, manifest, report)
    except SQLAlchemyError as exc:
        raise BackupError(f"the backup's database cannot be read or migrated: {exc}") from None
    return report


def _verify(engine: Engine, files: Path, manifest: Manifest, report: RestoreReport) -> None:
    session_factory = make_session_factory(engine)
    chain = verify_audit(UnitOfWork(session_factory))
    if not chain.ok:
        raise BackupError(f"the backup's audit trail is broken: {chain.problem}")
    report.audit_entries = chain.checked
    checks = verify_recordings(UnitOfWork(session_factory), files)
    bad = [f"recording {c.recording_id} ({c.path}): {c.problem}" for c in checks if c.problem]
    report.recordings = len(checks)
    clips = verify_clips(UnitOfWork(session_factory), files)
    bad += [f"clip {c.clip_id} ({c.path}): {c.problem}" for c in clips if c.problem]
    report.clips = len(clips)
    with engine.connect() as connection:
        for table, label in ((tm.camera_stills, "still"), (tm.unit_prompts, "prompt")):
            checked = 0
            query = select(table.c.id, table.c.sha256, table.c.data)
            if "purged_at" in table.c:
                query = query.where(table.c.purged_at.is_(None))
            rows = connection.execution_options(yield_per=500).execute(query.order_by(table.c.id))
            for row_id, sha, data in rows:
                checked += 1
                if hashlib.sha256(bytes(data)).hexdigest() != sha:
                    bad.append(f"{label} {row_id}: its picture or sound does not match its SHA-256")
            if label == "still":
                report.stills = checked
            else:
                report.prompts = checked
        counts = _counts(connection)
    for name, count in manifest.counts.items():
        if counts.get(name) != count:
            bad.append(f"{name}: {counts.get(name)} rows restored, the manifest says {count}")
    report.counts = counts
    if bad:
        raise BackupError("the backup does not verify: " + "; ".join(bad[:20]))


def _place_files(src: Path, recordings: Path, key: Path | None) -> list[Path]:
    """Copy the evidence files (to a staging directory renamed into place) and the key."""
    placed: list[Path] = []
    origin = src / RECORDINGS
    if origin.is_dir():
        recordings.parent.mkdir(parents=True, exist_ok=True)
        staging = recordings.with_name(f".{recordings.name}.restore-{secrets.token_hex(4)}")
        try:
            shutil.copytree(origin, staging)
            if recordings.exists():
                recordings.rmdir()  # checked empty before
            os.replace(staging, recordings)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        placed.append(recordings)
    if key is not None and not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / CREDENTIALS, key)
        os.chmod(key, 0o600)
        placed.append(key)
    return placed


def _unplace(placed: list[Path]) -> None:
    for path in placed:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
