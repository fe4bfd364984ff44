"""`helppoint zone | unit | maintainer | self-test | user …`: administration from the shell,
with the same rules (and refusals) as the admin pages (web/admin_pages.py)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

DbOption = Callable[[argparse.ArgumentParser], None]


def _context() -> tuple[Any, Any]:
    from helppoint.cli_context import command_settings, unit_of_work

    return command_settings, unit_of_work


def _uow_for(args: argparse.Namespace) -> Any:
    settings, uow = _context()
    return uow(settings(args))


# ---- zones ---------------------------------------------------------------------------------


def cmd_zone_add(args: argparse.Namespace) -> int:
    from helppoint.services.zones import add_zone

    zone = add_zone(_uow_for(args), args.zone_id, args.name, args.description, actor="cli")
    print(f"zone {zone.id}: {zone.name}")
    return 0


def cmd_zone_edit(args: argparse.Namespace) -> int:
    from helppoint.domain.errors import NotFound
    from helppoint.services.zones import list_zones, rename_zone

    current = {z.id: z for z in list_zones(_uow_for(args))}.get(args.zone_id)
    if current is None:
        raise NotFound(f"zone {args.zone_id!r} does not exist")
    zone = rename_zone(
        _uow_for(args),
        args.zone_id,
        args.name if args.name is not None else current.name,
        args.description if args.description is not None else current.description,
        actor="cli",
    )
    print(f"zone {zone.id}: {zone.name}")
    return 0


def cmd_zone_list(args: argparse.Namespace) -> int:
    from helppoint.services.zones import list_zones

    zones = list_zones(_uow_for(args))
    for zone in zones:
        units = f"{zone.units} unit{'' if zone.units == 1 else 's'}"
        print(f"{zone.id:20} {units:10} {zone.name}")
    if not zones:
        print("no zones yet: add one with `helppoint zone add ID --name NAME`")
    return 0


def add_zone_commands(zone: Any, db: DbOption) -> None:
    p = zone.add_parser("add", help="add a zone (an existing id is refused)")
    db(p)
    p.add_argument("zone_id")
    p.add_argument("--name", required=True)
    p.add_argument("--description", default="")
    p.set_defaults(func=cmd_zone_add)
    p = zone.add_parser("edit", help="rename a zone or change its description")
    db(p)
    p.add_argument("zone_id")
    p.add_argument("--name")
    p.add_argument("--description")
    p.set_defaults(func=cmd_zone_edit)
    p = zone.add_parser("list", help="list zones and how many units each has")
    db(p)
    p.set_defaults(func=cmd_zone_list)


# ---- units ---------------------------------------------------------------------------------


def _rules(args: argparse.Namespace) -> Any:
    from helppoint.services.unit_admin import PlaceRules

    settings, _ = _context()
    return PlaceRules.from_settings(settings(args))


def cmd_unit_add(args: argparse.Namespace) -> int:
    from helppoint import cli_sip
    from helppoint.services.unit_admin import add_unit, check_unit_place

    if args.kind == "sip":
        settings, uow = _context()
        check_unit_place(
            _uow_for(args), args.unit_id, args.lat, args.lon, _rules(args), args.confirm_place
        )
        return cli_sip.cmd_unit_add_sip(args, settings(args), uow)
    provisioned = add_unit(
        _uow_for(args),
        args.unit_id,
        args.name,
        args.zone,
        args.lat,
        args.lon,
        args.description,
        actor="cli",
        rules=_rules(args),
        confirm_place=args.confirm_place,
    )
    if args.json:
        print(json.dumps({"unit": provisioned.unit_id, "key": provisioned.key}))
    else:
        print(
            f"unit {provisioned.unit_id} provisioned. Its key (shown once, store it on the unit):"
        )
        print(provisioned.key)
    return 0


def cmd_unit_edit(args: argparse.Namespace) -> int:
    from helppoint.services.unit_admin import get_unit, update_unit

    current = get_unit(_uow_for(args), args.unit_id)
    unit = update_unit(
        _uow_for(args),
        args.unit_id,
        args.name if args.name is not None else current.name,
        args.description if args.description is not None else current.description,
        args.zone or current.zone_id,
        args.lat if args.lat is not None else current.latitude,
        args.lon if args.lon is not None else current.longitude,
        actor="cli",
        rules=_rules(args),
        confirm_place=args.confirm_place,
    )
    print(f"unit {unit.id}: {unit.name}, zone {unit.zone_id}, at {unit.latitude},{unit.longitude}")
    return 0


def cmd_unit_remove(args: argparse.Namespace) -> int:
    from helppoint.domain.units import Removal
    from helppoint.services.unit_admin import remove_unit

    removal = remove_unit(_uow_for(args), args.unit_id, actor="cli")
    if removal is Removal.DELETED:
        print(f"unit {args.unit_id} deleted (nothing had happened at it)")
    else:
        print(
            f"unit {args.unit_id} retired: its history stays on the record; it is on no map, "
            "sign or page any more and its key no longer works"
        )
    return 0


def cmd_unit_list(args: argparse.Namespace) -> int:
    from helppoint.services.unit_admin import unit_rows

    rows = unit_rows(_uow_for(args), include_retired=True)
    for unit in rows:
        seen = unit.last_seen_at.isoformat(timespec="seconds") if unit.last_seen_at else "never"
        print(
            f"{unit.id:10} {unit.zone_id:14} {unit.state_label:19} last seen {seen:25} {unit.name}"
        )
    if not rows:
        print("no units yet: add one with `helppoint unit add ID …`")
    return 0


def _place_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--confirm-place",
        action="store_true",
        help="accept a place far from the other units or outside scheme_area",
    )


def add_unit_commands(unit: Any, db: DbOption) -> None:
    p = unit.add_parser(
        "add",
        help="provision a unit and print its key",
        description="Provision a new unit; its key is printed once (only its hash is stored). "
        "An existing unit is refused (use `unit edit` or `unit rotate-key`); a revoked unit is "
        "provisioned again with a new key. A place far from the other units (place_max_km) or "
        "outside scheme_area is refused unless --confirm-place.",
    )
    db(p)
    p.add_argument("unit_id")
    p.add_argument("--name", required=True)
    p.add_argument("--zone", required=True, help="zone id")
    p.add_argument("--lat", type=float, required=True, help="latitude (WGS84)")
    p.add_argument("--lon", type=float, required=True, help="longitude (WGS84)")
    p.add_argument("--description", default="")
    p.add_argument("--json", action="store_true", help="print {unit, key} as JSON")
    _place_options(p)
    from helppoint import cli_sip

    cli_sip.add_unit_arguments(p)
    p.set_defaults(func=cmd_unit_add)
    p = unit.add_parser("edit", help="rename, describe, move a unit or put it in another zone")
    db(p)
    p.add_argument("unit_id")
    p.add_argument("--name")
    p.add_argument("--description")
    p.add_argument("--zone", help="zone id")
    p.add_argument("--lat", type=float, help="latitude (WGS84)")
    p.add_argument("--lon", type=float, help="longitude (WGS84)")
    _place_options(p)
    p.set_defaults(func=cmd_unit_edit)
    p = unit.add_parser(
        "remove",
        help="delete a unit, or retire it if it has history",
        description="A unit nothing ever happened at is deleted. One with history (events, "
        "incidents, tickets …) is retired: its key stops working and it leaves maps, signs, "
        "public pages, the console and the health board, but its record stays.",
    )
    db(p)
    p.add_argument("unit_id")
    p.set_defaults(func=cmd_unit_remove)
    p = unit.add_parser("list", help="list units, their state and when last heard from")
    db(p)
    p.set_defaults(func=cmd_unit_list)


# ---- maintainers ---------------------------------------------------------------------------


def cmd_maintainer_add(args: argparse.Namespace) -> int:
    from helppoint.services import maintainers
    from helppoint.services.clock import utcnow

    channel, target = ("email", args.email) if args.email else ("webhook", args.webhook)
    contact = maintainers.add_contact(
        _uow_for(args), args.name, channel, target, "cli", utcnow(), args.zone
    )
    where = f"zone {contact['zone_id']}" if contact["zone_id"] else "every zone"
    print(f"maintainer {contact['id']}: {contact['name']} ({channel} {target}) for {where}")
    return 0


def cmd_maintainer_list(args: argparse.Namespace) -> int:
    from helppoint.services import maintainers

    contacts = maintainers.contacts(_uow_for(args))
    for c in contacts:
        print(f"{c['id']:4} {c['name']:24} {c['channel']:8} {c['target']:40} {c['zone_id'] or '*'}")
    if not contacts:
        print("no maintainers yet: add one with `helppoint maintainer add NAME --email ADDRESS`")
    return 0


def cmd_maintainer_remove(args: argparse.Namespace) -> int:
    from helppoint.services import maintainers
    from helppoint.services.clock import utcnow

    maintainers.remove_contact(_uow_for(args), args.contact_id, "cli", utcnow())
    print(f"maintainer {args.contact_id} removed")
    return 0


def add_maintainer_commands(sub: Any, db: DbOption) -> None:
    group = sub.add_parser(
        "maintainer", help="who is told about faults (email or webhook)"
    ).add_subparsers(dest="maintainer_command", metavar="ACTION", required=True)
    p = group.add_parser(
        "add",
        help="add a maintainer contact",
        description="A contact told by email or webhook when a fault opens a maintenance "
        "ticket and when it is fixed or verified (docs/supervision.md).",
    )
    db(p)
    p.add_argument("name")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--email", help="email address")
    target.add_argument("--webhook", help="http(s) URL the ticket JSON is POSTed to")
    p.add_argument("--zone", help="only for units of this zone (default: every zone)")
    p.set_defaults(func=cmd_maintainer_add)
    p = group.add_parser("list", help="list maintainer contacts")
    db(p)
    p.set_defaults(func=cmd_maintainer_list)
    p = group.add_parser("remove", help="remove a maintainer contact by its id")
    db(p)
    p.add_argument("contact_id", type=int)
    p.set_defaults(func=cmd_maintainer_remove)


# ---- self-test schedules -------------------------------------------------------------------


def cmd_self_test_schedule(args: argparse.Namespace) -> int:
    from helppoint.domain.selftest import DefaultSchedule
    from helppoint.services import selftest
    from helppoint.services.clock import utcnow

    settings, uow = _context()
    configured = settings(args)
    saved = selftest.set_schedule(
        uow(configured),
        "cli",
        args.at,
        args.timezone,
        utcnow(),
        DefaultSchedule(configured.self_test_at, configured.self_test_timezone),
        unit_id=args.unit,
        zone_id=args.zone,
        enabled=not args.off,
    )
    what = f"unit {saved['unit_id']}" if saved["unit_id"] else f"zone {saved['zone_id']}"
    state = "off" if args.off else f"daily at {saved['at_time']} {saved['timezone']}"
    print(f"self-test of {what}: {state}")
    return 0


def cmd_self_test_list(args: argparse.Namespace) -> int:
    from helppoint.services import selftest

    rows = selftest.schedules(_uow_for(args))
    for r in rows:
        what = f"unit {r['unit_id']}" if r["unit_id"] else f"zone {r['zone_id']}"
        state = f"{r['at_time']} {r['timezone']}" if r["enabled"] else "off"
        print(f"{what:30} {state}")
    if not rows:
        print("no schedules of zones or units (the self_test_at setting, if any, applies)")
    return 0


def add_self_test_commands(sub: Any, db: DbOption) -> None:
    group = sub.add_parser("self-test", help="when units run their daily self-test").add_subparsers(
        dest="self_test_command", metavar="ACTION", required=True
    )
    p = group.add_parser("schedule", help="set the daily self-test time of a zone or a unit")
    db(p)
    scope = p.add_mutually_exclusive_group(required=True)
    scope.add_argument("--zone", help="zone id (the default of its units)")
    scope.add_argument("--unit", help="unit id")
    p.add_argument("--at", required=True, metavar="HH:MM", help="local time of day")
    p.add_argument("--timezone", default="Europe/London", help="IANA time zone")
    p.add_argument("--off", action="store_true", help="no scheduled self-test")
    p.set_defaults(func=cmd_self_test_schedule)
    p = group.add_parser("list", help="list zone and unit self-test schedules")
    db(p)
    p.set_defaults(func=cmd_self_test_list)


# ---- users ---------------------------------------------------------------------------------


def cmd_user_list(args: argparse.Namespace) -> int:
    from helppoint.services.operators import user_rows

    rows = user_rows(_uow_for(args))
    for u in rows:
        flags = []
        if u.two_factor:
            flags.append("2FA on")
        elif u.two_factor_required:
            flags.append("2FA required, not enrolled")
        if not u.active:
            flags.append("disabled")
        if u.locked_until is not None:
            flags.append(f"locked until {u.locked_until.isoformat(timespec='seconds')}")
        extra = f" ({', '.join(flags)})" if flags else ""
        print(f"{u.username:20} {u.role.value:11} {u.display_name}{extra}")
    if not rows:
        print("no users yet: add one with `helppoint user add NAME --role admin`")
    return 0


def _change(args: argparse.Namespace, **change: Any) -> int:
    from helppoint.services.operators import change_user

    user = change_user(_uow_for(args), args.username, "cli", **change)
    state = "" if user.active else ", disabled"
    print(f"user {user.username} ({user.display_name}): {user.role.value}{state}")
    return 0


def cmd_user_role(args: argparse.Namespace) -> int:
    from helppoint.services.operators import parse_role

    return _change(args, role=parse_role(args.role))


def add_user_commands(user: Any, db: DbOption) -> None:
    p = user.add_parser("list", help="list users, their role, two-factor state and locks")
    db(p)
    p.set_defaults(func=cmd_user_list)
    p = user.add_parser("role", help="change a user's role")
    db(p)
    p.add_argument("username")
    p.add_argument("role", help="operator, supervisor, admin, auditor or police")
    p.set_defaults(func=cmd_user_role)
    p = user.add_parser("rename", help="change a user's display name (as the pages show it)")
    db(p)
    p.add_argument("username")
    p.add_argument("display_name")
    p.set_defaults(func=lambda args: _change(args, display_name=args.display_name))
    p = user.add_parser("disable", help="stop a user signing in (their sessions end)")
    db(p)
    p.add_argument("username")
    p.set_defaults(func=lambda args: _change(args, active=False))
    p = user.add_parser("enable", help="let a disabled user sign in again")
    db(p)
    p.add_argument("username")
    p.set_defaults(func=lambda args: _change(args, active=True))
