"""`helppoint audit verify | export`: check and export the hash-chained audit trail."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

#: Exit status of `audit verify` when the chain does not hold.
TAMPERED = 1


def _parse_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO 8601 time (e.g. 2026-11-25T09:00:00+00:00)"
        ) from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r} has no UTC offset (add +00:00 or Z)")
    return parsed


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.audit import verify

    report = verify(unit_of_work(command_settings(args)))
    if report.ok:
        print(f"audit trail intact: {report.checked} entries, hash chain verified")
        return 0
    print(f"audit trail BROKEN at {report.problem}", file=sys.stderr)
    print(f"({report.checked} entries read up to the first bad one)", file=sys.stderr)
    return TAMPERED


def cmd_audit_export(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.audit import TrailQuery, export_trail

    text = export_trail(
        unit_of_work(command_settings(args)),
        TrailQuery(since=args.since, until=args.until, actor=args.actor, action=args.action),
        args.format,
        reader="cli",
    )
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"audit trail written to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def add_commands(sub: Any, db: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register `audit verify` and `audit export` on the main parser's subcommands."""
    audit = sub.add_parser(
        "audit", help="the tamper-evident audit trail (verify, export)"
    ).add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    p = audit.add_parser(
        "verify",
        help="check the hash chain; names the first altered, removed or reordered entry",
        description="Walk the audit trail in chain order and recompute every hash. Exits 0 "
        "when intact, 1 naming the first bad entry when not. See docs/audit.md.",
    )
    db(p)
    p.set_defaults(func=cmd_audit_verify)
    p = audit.add_parser("export", help="export the trail (oldest first) as CSV or JSON")
    db(p)
    p.add_argument("--format", choices=("csv", "json"), default="csv", help="default csv")
    p.add_argument("--since", type=_parse_time, help="from this UTC time (ISO 8601)")
    p.add_argument("--until", type=_parse_time, help="before this UTC time (ISO 8601)")
    p.add_argument("--actor", help="only this actor")
    p.add_argument("--action", help="only actions starting with this (e.g. incident.)")
    p.add_argument("-o", "--output", help="write to this file instead of standard output")
    p.set_defaults(func=cmd_audit_export)
