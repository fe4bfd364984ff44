"""`helppoint backup DEST`, `helppoint restore SRC`: backups (docs/deployment.md)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Exit status when a backup cannot be made or a backup is bad (nothing was changed).
FAILED = 1


def cmd_backup(args: argparse.Namespace) -> int:
    from helppoint.backup.make import describe, make_backup
    from helppoint.backup.manifest import BackupError
    from helppoint.cli_context import command_settings

    started = time.monotonic()
    try:
        manifest = make_backup(command_settings(args), Path(args.dest), pg_dump=args.pg_dump)
    except BackupError as exc:
        print(f"helppoint: backup failed, nothing written: {exc}", file=sys.stderr)
        return FAILED
    shown = describe(manifest)
    print(
        f"backup of the {manifest.database} database (schema {manifest.schema_revision}) "
        f"written to {args.dest} in {time.monotonic() - started:.1f} s: {shown['files']} files, "
        f"{shown['bytes']:,} bytes, {shown.get('incidents', 0)} incidents, "
        f"{shown.get('audit_entries', 0)} audit entries, {shown.get('recordings', 0)} recordings; "
        "SHA-256 of each file in manifest.json"
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from helppoint.backup.manifest import BackupError
    from helppoint.backup.restore import restore_backup
    from helppoint.cli_context import command_settings

    started = time.monotonic()
    try:
        report = restore_backup(command_settings(args), Path(args.src), pg_restore=args.pg_restore)
    except BackupError as exc:
        print(f"helppoint: restore refused, nothing changed: {exc}", file=sys.stderr)
        return FAILED
    counts = report.counts
    print(
        f"restored {args.src} into the {report.database} database in "
        f"{time.monotonic() - started:.1f} s (schema {report.revision_from} -> "
        f"{report.revision_to}) and verified it: manifest SHA-256 of {report.files} files, "
        f"audit chain of {report.audit_entries} entries intact, {report.recordings} recordings "
        f"and {report.clips} clips match their SHA-256, {report.stills} stills and "
        f"{report.prompts} prompts match theirs; {counts.get('incidents', 0)} incidents, "
        f"{counts.get('device_events', 0)} events"
    )
    return 0


def add_commands(
    sub: argparse._SubParsersAction[Any], db: Callable[[argparse.ArgumentParser], None]
) -> None:
    p = sub.add_parser(
        "backup",
        help="back up the database and evidence files into a new directory",
        description="Back up while the server runs: the database (SQLite's online backup, or "
        "pg_dump), the recordings and clips it refers to (each checked against its recorded "
        "SHA-256), the credentials key file, and manifest.json with the SHA-256 of every file. "
        "DEST must be new or empty; it is written whole or not at all. See docs/deployment.md.",
    )
    db(p)
    p.add_argument("dest", help="a new directory for the backup")
    p.add_argument("--pg-dump", default="pg_dump", help="the pg_dump program (PostgreSQL)")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser(
        "restore",
        help="restore a backup into a fresh database and verify it",
        description="Restore a backup made by `helppoint backup` into the configured database, "
        "which must be fresh (no tables), and an empty recordings directory. The manifest's "
        "SHA-256 sums are checked first; the database is migrated to this release and verified "
        "(audit chain, recordings', clips', stills' and prompts' SHA-256, row counts) before "
        "it is reported good. A bad or tampered backup is refused and nothing is changed.",
    )
    db(p)
    p.add_argument("src", help="the backup directory")
    p.add_argument("--pg-restore", default="pg_restore", help="the pg_restore program")
    p.set_defaults(func=cmd_restore)
