"""`helppoint user unlock | locked | 2fa-reset | require-2fa`: sign-in security."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any


def cmd_user_unlock(args: argparse.Namespace) -> int:
    from helppoint.cli_context import CommandError, command_settings, unit_of_work
    from helppoint.services import login_throttle

    if bool(args.username) == bool(args.address):
        raise CommandError("give a username or --address, not both")
    was_locked = login_throttle.unlock(
        unit_of_work(command_settings(args)),
        username=args.username,
        address=args.address,
        actor="cli",
    )
    what = f"user {args.username}" if args.username else f"address {args.address}"
    print(f"{what} unlocked" if was_locked else f"{what} was not locked (failures cleared)")
    return 0


def cmd_user_locked(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services import login_throttle

    locked = login_throttle.locked_keys(unit_of_work(command_settings(args)))
    for lock in locked:
        print(f"{lock['key']:40} until {lock['locked_until']}")
    if not locked:
        print("no account or address is locked")
    return 0


def cmd_user_2fa_reset(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services import totp

    totp.reset(unit_of_work(command_settings(args)), args.username, actor="cli")
    print(f"two-factor sign-in of {args.username} reset: they enrol again if their role needs it")
    return 0


def cmd_user_require_2fa(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services import totp
    from helppoint.services.operators import parse_role

    role = parse_role(args.role)
    totp.set_role_policy(unit_of_work(command_settings(args)), role, not args.off, actor="cli")
    state = "no longer required" if args.off else "required"
    print(f"two-factor sign-in {state} for role {role.value}")
    return 0


def add_commands(user: Any, db: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register the commands on the `helppoint user` subparsers."""
    p = user.add_parser("unlock", help="lift a sign-in lockout of a user or a client address")
    db(p)
    p.add_argument("username", nargs="?")
    p.add_argument("--address", help="unlock this client address instead of a user")
    p.set_defaults(func=cmd_user_unlock)
    p = user.add_parser("locked", help="list locked accounts and addresses")
    db(p)
    p.set_defaults(func=cmd_user_locked)
    p = user.add_parser("2fa-reset", help="turn a user's two-factor sign-in off (lost phone)")
    db(p)
    p.add_argument("username")
    p.set_defaults(func=cmd_user_2fa_reset)
    p = user.add_parser("require-2fa", help="require two-factor sign-in for every user of a role")
    db(p)
    p.add_argument("role", help="operator, supervisor, admin, auditor or police")
    p.add_argument("--off", action="store_true", help="stop requiring it")
    p.set_defaults(func=cmd_user_require_2fa)


def cmd_unit_rotate_key(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.units import rotate_unit_key

    provisioned = rotate_unit_key(
        unit_of_work(command_settings(args)),
        args.unit_id,
        timedelta(seconds=args.overlap),
        actor="cli",
    )
    print(f"new key for {provisioned.unit_id} (shown once, put it on the unit):")
    print(provisioned.key)
    if args.overlap:
        print(f"the old key keeps working for {args.overlap} s", file=sys.stderr)
    else:
        print("the old key no longer works", file=sys.stderr)
    return 0


def cmd_unit_revoke(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.units import revoke_unit

    revoke_unit(unit_of_work(command_settings(args)), args.unit_id, actor="cli")
    print(f"unit {args.unit_id} revoked: it cannot connect until provisioned again")
    return 0


def add_unit_commands(unit: Any, db: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register key rotation and revocation on the `helppoint unit` subparsers."""
    p = unit.add_parser("rotate-key", help="give a unit a new key (printed once)")
    db(p)
    p.add_argument("unit_id")
    p.add_argument(
        "--overlap",
        type=int,
        default=0,
        metavar="SECONDS",
        help="seconds the old key keeps working (default 0: refused at once)",
    )
    p.set_defaults(func=cmd_unit_rotate_key)
    p = unit.add_parser("revoke", help="take a unit out of service (its key stops working)")
    db(p)
    p.add_argument("unit_id")
    p.set_defaults(func=cmd_unit_revoke)
