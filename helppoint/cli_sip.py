"""`helppoint unit add --kind sip …`: a unit that is a standard SIP intercom (docs/sip.md)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from helppoint.config import Settings
from helppoint.store.uow import UnitOfWork


def add_unit_arguments(p: argparse.ArgumentParser) -> None:
    """The `unit add` options of SIP help points."""
    p.add_argument(
        "--kind",
        choices=("agent", "sip"),
        default="agent",
        help="agent: runs `helppoint agent` (prints its key); sip: a SIP intercom (prints the "
        "SIP account to enter in the device)",
    )
    p.add_argument("--sip-user", help="SIP username (default: the unit id)")
    p.add_argument(
        "--sip-password-stdin",
        action="store_true",
        help="read the SIP password from standard input (default: a random one, shown once)",
    )
    p.add_argument(
        "--light-on",
        default="none",
        help="what switches the light on: dtmf:DIGITS (RFC 4733) or info:DIGITS (SIP INFO) in "
        "a call, http:URL (a GET to the device's HTTP API, at any time) or none (default)",
    )
    p.add_argument("--light-off", default="none", help="what switches it off (same forms)")
    p.add_argument(
        "--srtp",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="call the unit back with SRTP (SDES) offered, for a device that takes encrypted "
        "media only (--no-srtp: plain RTP, the default; a press is answered in SRTP whenever "
        "the device offers it)",
    )
    p.add_argument(
        "--http-user",
        help="user name of the device's HTTP API for http: actions (stored sealed; '' removes "
        "the account; default: keep the one it has)",
    )
    p.add_argument(
        "--http-password-stdin",
        action="store_true",
        help="read that account's password from standard input (after the SIP password, if "
        "--sip-password-stdin is given too)",
    )


def cmd_unit_add_sip(
    args: argparse.Namespace, settings: Settings, uow_of: Callable[[Settings], UnitOfWork]
) -> int:
    """Add (or re-key) a SIP help point and print the account to enter in the device."""
    from helppoint.services.sip_units import add_sip_unit
    from helppoint.store.sealed import sealer_for

    password = None
    if args.sip_password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    http_password = ""
    if args.http_password_stdin:
        if not args.http_user:
            print("--http-password-stdin needs --http-user", file=sys.stderr)
            return 2
        http_password = sys.stdin.readline().rstrip("\r\n")
    sealer = sealer_for(settings) if args.http_user else None
    with uow_of(settings) as uow:
        added = add_sip_unit(
            uow,
            args.unit_id,
            args.name,
            args.zone,
            args.lat,
            args.lon,
            realm=settings.sip_realm,
            keepalive=settings.sip_keepalive,
            username=args.sip_user,
            password=password,
            light_on=args.light_on,
            light_off=args.light_off,
            http_user=args.http_user,
            http_password=http_password,
            sealer=sealer,
            srtp=args.srtp,
            actor="cli",
        )
        uow.commit()
    host = settings.sip_host or settings.host
    server = f"{host}:{settings.sip_port}" if settings.sip_port else "(sip_port is not set)"
    account = {
        "unit": added.unit_id,
        "kind": "sip",
        "username": added.username,
        "password": added.password,
        "realm": added.realm,
        "registrar": server,
        "call": f"sip:helppoint@{host}",
    }
    if args.json:
        print(json.dumps(account))
    else:
        print(f"SIP unit {added.unit_id} added. Enter in the device (the password is shown once):")
        for name in ("username", "password", "realm", "registrar"):
            print(f"  {name:10} {account[name]}")
        print(f"  on a press, call {account['call']} (any user part reaches helppoint)")
    return 0
