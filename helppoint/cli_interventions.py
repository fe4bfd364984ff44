"""`helppoint intervention add | list | remove`: things done at a unit to cut false presses (new
signage, lighting, a moved camera), which the scheme report compares 28 days before and after
(docs/reports.md). The same rules as the dashboard and /api/reports/interventions; the audit
trail says `cli` recorded or removed it."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import date
from typing import Any

DbOption = Callable[[argparse.ArgumentParser], None]


def _uow_for(args: argparse.Namespace) -> Any:
    from helppoint.cli_context import command_settings, unit_of_work

    return unit_of_work(command_settings(args))


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"a date is written YYYY-MM-DD, e.g. 2026-10-05, not {text!r}"
        ) from exc


def cmd_intervention_add(args: argparse.Namespace) -> int:
    from helppoint.services.clock import utcnow
    from helppoint.services.reports import add_intervention

    made = add_intervention(_uow_for(args), args.unit_id, args.on, args.what, "cli", utcnow())
    print(f"intervention {made.id} recorded: {made.unit_id} on {made.on}: {made.what}")
    return 0


def cmd_intervention_list(args: argparse.Namespace) -> int:
    from helppoint.services.reports import list_interventions

    items = list_interventions(_uow_for(args))
    if args.json:
        view = [
            {"id": i.id, "unit_id": i.unit_id, "on": i.on.isoformat(), "what": i.what}
            for i in items
        ]
        print(json.dumps(view))
        return 0
    for item in items:
        print(f"{item.id:5} {item.on} {item.unit_id:10} {item.what}")
    if not items:
        print(
            "no interventions: record one with "
            "`helppoint intervention add UNIT --on YYYY-MM-DD --what TEXT`"
        )
    return 0


def cmd_intervention_remove(args: argparse.Namespace) -> int:
    from helppoint.services.clock import utcnow
    from helppoint.services.reports import remove_intervention

    remove_intervention(_uow_for(args), args.intervention_id, "cli", utcnow())
    print(f"intervention {args.intervention_id} removed")
    return 0


def add_commands(sub: Any, db: DbOption) -> None:
    group = sub.add_parser(
        "intervention",
        help="things done at a unit to cut false presses (add, list, remove)",
    ).add_subparsers(dest="intervention_command", metavar="ACTION", required=True)
    p = group.add_parser(
        "add",
        help="record something done at a unit on a date",
        description="Record an intervention at a unit (new signage, lighting, a moved camera…): "
        "the monthly and yearly reports show the false and malicious presses at the unit in the "
        "28 days before and after its date. See docs/reports.md.",
    )
    db(p)
    p.add_argument("unit_id", help="the unit, e.g. HP-01")
    p.add_argument("--on", type=_day, required=True, help="the date, YYYY-MM-DD (local)")
    p.add_argument("--what", required=True, help="what was done, 1-500 characters")
    p.set_defaults(func=cmd_intervention_add)
    p = group.add_parser("list", help="list the recorded interventions, oldest first")
    db(p)
    p.add_argument("--json", action="store_true", help="print them as a JSON list")
    p.set_defaults(func=cmd_intervention_list)
    p = group.add_parser("remove", help="forget a mistaken intervention by its id")
    db(p)
    p.add_argument("intervention_id", type=int)
    p.set_defaults(func=cmd_intervention_remove)
