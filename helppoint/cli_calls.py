"""`helppoint recordings purge | verify`: retention and integrity of call recordings."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

#: Exit status of `recordings verify` when a file is missing or changed.
DAMAGED = 1


def cmd_recordings_purge(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.calls import purge_recordings
    from helppoint.store.recording_files import recordings_path

    settings = command_settings(args)
    uow = unit_of_work(settings)
    purged = purge_recordings(lambda: uow, recordings_path(settings))
    print(
        f"deleted {purged} recording(s) older than {settings.recording_retention_days} days "
        "(recordings on evidence hold are kept)"
    )
    return 0


def cmd_recordings_verify(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.calls import verify_recordings
    from helppoint.store.recording_files import recordings_path

    settings = command_settings(args)
    checks = verify_recordings(unit_of_work(settings), recordings_path(settings))
    bad = [c for c in checks if c.problem]
    for check in bad:
        print(f"recording {check.recording_id} ({check.path}): {check.problem}", file=sys.stderr)
    print(f"{len(checks)} recording(s) checked, {len(bad)} with problems")
    return DAMAGED if bad else 0


def add_commands(sub: Any, db: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register `recordings purge` and `recordings verify` on the main parser's subcommands."""
    recordings = sub.add_parser(
        "recordings", help="call recordings: retention and integrity"
    ).add_subparsers(dest="recordings_command", metavar="ACTION", required=True)
    p = recordings.add_parser(
        "purge",
        help="delete recordings past retention (not those on evidence hold)",
        description="Delete call recordings older than recording_retention_days (default 31) "
        "unless a supervisor placed them on evidence hold. Each deletion is audited. The server "
        "also does this every hour.",
    )
    db(p)
    p.set_defaults(func=cmd_recordings_purge)
    p = recordings.add_parser(
        "verify",
        help="check every kept recording against its SHA-256",
        description="Recompute the SHA-256 of every kept recording and report files that are "
        "missing or changed (exit status 1 if any).",
    )
    db(p)
    p.set_defaults(func=cmd_recordings_verify)
