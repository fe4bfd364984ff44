"""`helppoint sia add | list | disable`: the SIA DC-09 accounts of third-party alarm devices."""

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
    from helppoint.cli import _settings, _uow
    from helppoint.services.sia_accounts import account_view, save_account

    with _uow(_settings(args)) as uow:
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
    from helppoint.cli import _settings, _uow
    from helppoint.services.sia_accounts import account_view, list_accounts

    with _uow(_settings(args)) as uow:
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
    from helppoint.cli import _settings, _uow
    from helppoint.services.sia_accounts import deactivate_account

    with _uow(_settings(args)) as uow:
        deactivate_account(uow, args.account, actor="cli")
        uow.commit()
    print(f"DC-09 account {args.account.upper()} disabled: its messages are answered DUH")
    return 0


def add_commands(sub: Any, db: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register `sia add`, `sia list` and `sia disable`."""
    sia = sub.add_parser(
        "sia", help="SIA DC-09 accounts of third-party alarm devices (add, list, disable)"
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
