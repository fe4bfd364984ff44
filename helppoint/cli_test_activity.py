"""`helppoint unit on-test | off-test | commission | commissioning` and `helppoint channel list
| test`: test activity from the shell, with the same rules as the API and the admin pages.

A unit on test logs what it reports as a test, not an alarm (docs/triage.md); a commissioning
test takes one press along the whole path (docs/first-day.md); a channel test sends a test
message by email or to a webhook now (docs/notifications.md). All of them are audited with
`cli` as the actor."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

DbOption = Callable[[argparse.ArgumentParser], None]
ACTOR = "cli"


def _uow_factory(args: argparse.Namespace) -> Callable[[], Any]:
    from helppoint.cli_context import command_settings, unit_of_work

    uow = unit_of_work(command_settings(args))  # migrates once; each `with uow:` is a new session
    return lambda: uow


def _test_line(view: dict[str, Any]) -> str:
    if not view["on_test"]:
        return f"unit {view['unit_id']} is not on test: what it reports is an alarm"
    until = datetime.fromisoformat(view["until"])
    return (
        f"unit {view['unit_id']} is on test until {until:%Y-%m-%d %H:%M} UTC ({view['reason']}): "
        "what it reports is logged as a test, not alarmed"
    )


def cmd_unit_on_test(args: argparse.Namespace) -> int:
    from helppoint.services import triage_on_test

    view = triage_on_test.put_on_test(
        _uow_factory(args)(), args.unit_id, args.minutes, args.reason, ACTOR
    )
    print(_test_line(view))
    return 0


def cmd_unit_off_test(args: argparse.Namespace) -> int:
    from helppoint.services import triage_on_test

    view = triage_on_test.end_test(_uow_factory(args)(), args.unit_id, ACTOR)
    print(_test_line(view))
    return 0


def _print_commissioning(run: Any) -> None:
    if run.started_at is None:
        print(f"unit {run.unit_id}: no commissioning test yet (start one with `unit commission`)")
        return
    state = f"on test until {run.on_test_until:%H:%M} UTC" if run.running else "no longer on test"
    print(
        f"commissioning test of {run.unit_id}, started {run.started_at:%Y-%m-%d %H:%M} UTC by "
        f"{run.started_by}; {state}"
    )
    for step in run.steps:
        print(f"  [{'x' if step.passed else ' '}] {step.name} ({step.detail})")
    print("passed: every step worked" if run.passed else "not passed yet")


def cmd_unit_commission(args: argparse.Namespace) -> int:
    from helppoint.domain.commissioning import COMMISSIONING_MINUTES
    from helppoint.services import commissioning

    run = commissioning.start(_uow_factory(args), args.unit_id, ACTOR)
    print(
        f"commissioning test of {args.unit_id} started: the unit is on test for "
        f"{COMMISSIONING_MINUTES} minutes. Press its button now; follow it with "
        f"`helppoint unit commissioning {args.unit_id}`."
    )
    _print_commissioning(run)
    return 0


def cmd_unit_commissioning(args: argparse.Namespace) -> int:
    from helppoint.services import commissioning

    run = commissioning.status(_uow_factory(args)(), args.unit_id)
    _print_commissioning(run)
    return 0 if run.passed or not args.check else 1


def add_unit_commands(unit: Any, db: DbOption) -> None:
    p = unit.add_parser(
        "on-test",
        help="put a unit on test for a maintenance window",
        description="What the unit reports during the window is logged as a test, not alarmed "
        "(docs/triage.md). A new window replaces the current one. Audited.",
    )
    db(p)
    p.add_argument("unit_id")
    p.add_argument("--minutes", type=int, required=True, help="length of the window (1-1440)")
    p.add_argument("--reason", required=True, help="why, as the console shows it")
    p.set_defaults(func=cmd_unit_on_test)
    p = unit.add_parser(
        "off-test", help="end a unit's maintenance window now: its presses alarm again"
    )
    db(p)
    p.add_argument("unit_id")
    p.set_defaults(func=cmd_unit_off_test)
    p = unit.add_parser(
        "commission",
        help="start a commissioning test of a unit (on test for an hour)",
        description="Start a commissioning test: the unit goes on test, and its next press is "
        "taken along the whole path (console, trigger plan, notifications, police view) as test "
        "activity, left out of reports and answer-time figures. Follow the checklist with "
        "`unit commissioning UNIT` or on the unit's admin page.",
    )
    db(p)
    p.add_argument("unit_id")
    p.set_defaults(func=cmd_unit_commission)
    p = unit.add_parser(
        "commissioning", help="show a unit's commissioning checklist: which steps passed"
    )
    db(p)
    p.add_argument("unit_id")
    p.add_argument(
        "--check", action="store_true", help="exit 1 unless every step passed (for scripts)"
    )
    p.set_defaults(func=cmd_unit_commissioning)


# ---- notification channels -----------------------------------------------------------------


def cmd_channel_list(args: argparse.Namespace) -> int:
    from helppoint.services import channels

    found = channels.configured_channels(_uow_factory(args)())
    for c in found:
        trouble = f" ({c.last_error})" if c.state == "failing" and c.last_error else ""
        print(f"{c.channel:8} {c.target:44} {c.state}{trouble}; used by {', '.join(c.used_by)}")
        if c.waiting or c.given_up:
            print(f"{'':8} {c.waiting} waiting, {c.given_up} given up")
    if not found:
        print("no channels: name destinations in a trigger plan or add a maintainer")
    return 0


def cmd_channel_test(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings
    from helppoint.services import channels

    done = asyncio.run(
        channels.send_test(
            _uow_factory(args), command_settings(args), args.channel, args.target, ACTOR, None
        )
    )
    print(done)
    return 0


def add_channel_commands(sub: Any, db: DbOption) -> None:
    group = sub.add_parser(
        "channel", help="notification channels: their health, and a test message"
    ).add_subparsers(dest="channel_command", metavar="ACTION", required=True)
    p = group.add_parser(
        "list",
        help="every email address and webhook the plans and maintainers use, with its health",
    )
    db(p)
    p.set_defaults(func=cmd_channel_list)
    p = group.add_parser(
        "test",
        help="send a test message by email or to a webhook now",
        description="Send a test message now (not through the outbox) and say whether it went: "
        "email through the configured SMTP server (smtp_* settings), or a JSON POST with "
        '"test": true to a webhook. Audited (channel.tested). Exits 2 if it could not be sent.',
    )
    db(p)
    p.add_argument("channel", choices=["email", "webhook"])
    p.add_argument("target", help="email address or http(s) URL")
    p.set_defaults(func=cmd_channel_test)
