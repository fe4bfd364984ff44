"""`helppoint sia add | list | disable | codes | handle`: SIA DC-09 accounts and event codes.

Accounts are the third-party alarm devices; `codes` and `handle` show and set how each
category of event code is handled (incident, supervision only, log only).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def _zone(value: str) -> tuple[str, str]:
    zone, sep, unit = value.partition("=")
    if not sep or not zone or not unit:
        raise argparse.ArgumentTypeError(f"{value!r}: give ZONE=UNIT, e.g. 7=HP-02")
    return zone, unit


def cmd_sia_add(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.sia_accounts import account_view, save_account

    with unit_of_work(command_settings(args)) as uow:
        account = save_account(
            uow,
            args.account,
            args.unit,
            key_hex=args.key,
            zone_units=dict(args.zone or []),
            tolerance_past=args.tolerance_past,
            tolerance_future=args.tolerance_future,
            actor="cli",
        )
        view = account_view(account)
        uow.commit()
    mode = "AES" if view["encrypted"] else "plain"
    zones = ", ".join(f"zone {z} → {u}" for z, u in view["zone_units"].items())
    print(f"DC-09 account {view['account']} ({mode}) reports for {view['unit_id']}", end="")
    print(f"; {zones}" if zones else "")
    return 0


def cmd_sia_list(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.sia_accounts import account_view, list_accounts

    with unit_of_work(command_settings(args)) as uow:
        for account in list_accounts(uow):
            v = account_view(account)
            zones = " ".join(f"{z}={u}" for z, u in v["zone_units"].items())
            print(
                f"{v['account']:<16} {v['unit_id']:<12} {'AES' if v['encrypted'] else 'plain':<5} "
                f"-{v['tolerance_past']}/+{v['tolerance_future']} s "
                f"{'active' if v['active'] else 'disabled':<8} {zones}".rstrip()
            )
    return 0


def cmd_sia_disable(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.sia_accounts import deactivate_account

    with unit_of_work(command_settings(args)) as uow:
        deactivate_account(uow, args.account, actor="cli")
        uow.commit()
    print(f"DC-09 account {args.account.upper()} disabled: its messages are answered DUH")
    return 0


def cmd_sia_codes(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.sia_handling import category_handlings

    with unit_of_work(command_settings(args)) as uow:
        views = category_handlings(uow)
    for v in views:
        chosen = "" if v.changed_by is None else f" (set by {v.changed_by})"
        may = "/".join(h.value for h in v.allowed)
        print(
            f"{v.category.value:<12} {v.handling.value:<12} {v.priority or '-':<10} "
            f"{len(v.sia_codes):>3} SIA {len(v.contact_id_codes):>3} CID  [{may}] "
            f"{v.label}{chosen}"
        )
        if args.codes:
            print(f"    SIA DC-03: {' '.join(v.sia_codes) or '-'}")
            print(f"    Contact ID: {' '.join(v.contact_id_codes) or '-'}")
    return 0


def cmd_sia_handle(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.sia_handling import set_handling

    with unit_of_work(command_settings(args)) as uow:
        view = set_handling(uow, args.category, args.handling, actor="cli")
        uow.commit()
    print(
        f"DC-09 {view.category.value} events ({view.label}) are now handled as "
        f"{view.handling.value} (a running receiver applies it within 10 s)"
    )
    return 0


def add_commands(sub: Any, db: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register `sia add`, `sia list`, `sia disable`, `sia codes` and `sia handle`."""
    sia = sub.add_parser(
        "sia",
        help="SIA DC-09: accounts of third-party alarm devices (add, list, disable) and how "
        "event codes are handled (codes, handle)",
    ).add_subparsers(dest="sia_command", metavar="ACTION", required=True)
    p = sia.add_parser(
        "add",
        help="add or change an account (panel) and the unit(s) it reports for",
        description="Map a DC-09 account to a help point unit (and zones to other units). "
        "The receiver listens when sia_port is set; see docs/sia-dc09.md.",
    )
    db(p)
    p.add_argument("account", help="3-16 hex digits, as programmed in the panel")
    p.add_argument("--unit", required=True, help="unit its events belong to (provision it first)")
    p.add_argument("--key", help="AES key as 32, 48 or 64 hex digits (omit for a plain account)")
    p.add_argument(
        "--zone",
        action="append",
        type=_zone,
        metavar="ZONE=UNIT",
        help="events of this zone belong to another unit (repeatable)",
    )
    p.add_argument(
        "--tolerance-past",
        type=int,
        default=40,
        help="seconds a message's timestamp may lag ours (default 40; widen for local time)",
    )
    p.add_argument(
        "--tolerance-future",
        type=int,
        default=20,
        help="seconds a message's timestamp may lead ours (default 20)",
    )
    p.set_defaults(func=cmd_sia_add)
    p = sia.add_parser("list", help="list accounts (never their keys)")
    db(p)
    p.set_defaults(func=cmd_sia_list)
    p = sia.add_parser("disable", help="stop accepting an account's messages")
    db(p)
    p.add_argument("account")
    p.set_defaults(func=cmd_sia_disable)
    p = sia.add_parser(
        "codes",
        help="list the categories of event codes and how each is handled",
        description="Every SIA DC-03 and Contact ID code of the published tables falls into "
        "a category; each category is handled as an incident, supervision only or log only. "
        "Columns: category, handling, incident priority, codes in it, handlings it may have. "
        "See docs/sia-dc09.md.",
    )
    db(p)
    p.add_argument("--codes", action="store_true", help="also list each category's codes")
    p.set_defaults(func=cmd_sia_codes)
    p = sia.add_parser(
        "handle",
        help="set how a category of event codes is handled",
        description="incident: an incident in the operator queue at the category's priority; "
        "supervision: no incident (a test report is a passed self-test, anything else a "
        "maintenance ticket); log: stored on the unit's record only. Records (openings, "
        "restorals …) can only be logged. See docs/sia-dc09.md.",
    )
    db(p)
    p.add_argument("category", help="e.g. intrusion, trouble, open_close (see `sia codes`)")
    p.add_argument("handling", choices=["incident", "supervision", "log"])
    p.set_defaults(func=cmd_sia_handle)
