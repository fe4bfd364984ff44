"""`helppoint plan check | import | export | list | example`: trigger plan files."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helppoint.domain.plans import PlanInvalid

#: Exit status when a plan file is invalid.
INVALID = 1


def _read(path: str) -> str:
    from helppoint.cli_context import CommandError

    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from exc


def _report(path: str, exc: PlanInvalid) -> int:
    for problem in exc.problems:
        print(f"{path}: {problem}", file=sys.stderr)
    count = len(exc.problems)
    print(f"{path}: not activated ({count} problem{'' if count == 1 else 's'})", file=sys.stderr)
    return INVALID


def cmd_plan_check(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.plans import check_plan

    try:
        plan = check_plan(unit_of_work(command_settings(args)), _read(args.file))
    except PlanInvalid as exc:
        return _report(args.file, exc)
    print(f"{args.file}: valid plan {plan.name!r} for {plan.scope.value} {plan.target_id}")
    return 0


def cmd_plan_import(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.plans import import_plan

    try:
        view = import_plan(unit_of_work(command_settings(args)), _read(args.file), actor="cli")
    except PlanInvalid as exc:
        return _report(args.file, exc)
    print(
        f"plan {view['name']!r} active for {view['scope']} {view['target_id']} "
        f"(version {view['version']})"
    )
    return 0


def cmd_plan_export(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.plans import export_plan, parse_scope

    text = export_plan(unit_of_work(command_settings(args)), parse_scope(args.scope), args.target)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"plan written to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_plan_list(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.plans import list_plans

    for plan in list_plans(unit_of_work(command_settings(args))):
        print(
            f"{plan['scope']:5} {plan['target_id']:20} v{plan['version']:<3} {plan['name']} "
            f"({plan['updated_at']} by {plan['updated_by']})"
        )
    return 0


def cmd_plan_example(args: argparse.Namespace) -> int:
    from helppoint.services.plans import EXAMPLE_PLAN

    sys.stdout.write(EXAMPLE_PLAN)
    return 0


def add_commands(sub: Any, db: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register the `plan` commands on the main parser's subcommands."""
    plan = sub.add_parser("plan", help="trigger plans (check, import, export)").add_subparsers(
        dest="plan_command", metavar="ACTION", required=True
    )
    p = plan.add_parser(
        "check",
        help="validate a plan file without activating it",
        description="Report every problem in a YAML plan file with its line; exit 1 if any.",
    )
    db(p)
    p.add_argument("file", help="YAML plan file (- for standard input)")
    p.set_defaults(func=cmd_plan_check)
    p = plan.add_parser(
        "import",
        help="validate a plan file and make it the active plan of its zone or unit",
        description="An invalid plan is never activated: every problem is reported with its "
        "line, and the plan in force stays as it was. See docs/trigger-plans.md.",
    )
    db(p)
    p.add_argument("file", help="YAML plan file (- for standard input)")
    p.set_defaults(func=cmd_plan_import)
    p = plan.add_parser("export", help="write a zone's or unit's plan file as imported")
    db(p)
    p.add_argument("scope", choices=("zone", "unit"))
    p.add_argument("target", help="zone or unit id")
    p.add_argument("-o", "--output", help="write to this file instead of standard output")
    p.set_defaults(func=cmd_plan_export)
    p = plan.add_parser("list", help="list the active plans")
    db(p)
    p.set_defaults(func=cmd_plan_list)
    p = plan.add_parser("example", help="print a commented example plan")
    p.set_defaults(func=cmd_plan_example)
