"""`helppoint camera add | update | list | show | remove | link | unlink`: the camera registry.

Passwords are read from standard input or asked for, never taken as an argument (other users
of the machine can read a process's arguments).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from typing import Any

from helppoint.services.camera_views import CameraView


def _password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if getattr(args, "ask_password", False):
        return getpass.getpass("Camera password: ")
    return None


def _details(args: argparse.Namespace) -> Any:
    from helppoint.services.cameras import CameraDetails

    return CameraDetails(
        name=args.name,
        rtsp_url=args.rtsp,
        onvif=args.onvif,
        onvif_profile=args.profile,
        username=args.user,
        password=_password(args),
        latitude=args.lat,
        longitude=args.lon,
        description=args.description,
    )


def _print(view: CameraView, as_json: bool) -> None:
    if as_json:
        print(view.model_dump_json())
        return
    account = f"{view.username_hint} (password {'set' if view.password_set else 'not set'})"
    print(f"camera {view.id}: {view.name}")
    print(f"  stream   {view.rtsp_url}")
    print(f"  ONVIF    {view.onvif or 'none (fixed camera)'}")
    print(f"  account  {account if view.username_hint else 'none'}")
    if view.latitude is not None:
        print(f"  position {view.latitude:.6f},{view.longitude:.6f}")
    for link in view.links:
        if link.unit_id:
            extra = " (its own camera)" if link.own else ""
            preset = f", preset {link.preset}" if link.preset else ""
            print(f"  shown for unit {link.unit_id}{extra}{preset}")
        else:
            print(f"  shown for zone {link.zone_id}")


def cmd_camera_add(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.cameras import register_camera
    from helppoint.store.sealed import sealer_for

    settings = command_settings(args)
    view = register_camera(
        unit_of_work(settings), sealer_for(settings), args.camera_id, _details(args), actor="cli"
    )
    _print(view, args.json)
    return 0


def cmd_camera_update(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.cameras import update_camera
    from helppoint.store.sealed import sealer_for

    settings = command_settings(args)
    view = update_camera(
        unit_of_work(settings), sealer_for(settings), args.camera_id, _details(args), actor="cli"
    )
    _print(view, args.json)
    return 0


def cmd_camera_list(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.cameras import list_cameras

    views = list_cameras(unit_of_work(command_settings(args)), include_removed=args.all)
    if args.json:
        print(json.dumps([v.model_dump(mode="json") for v in views]))
        return 0
    for v in views:
        links = " ".join(
            f"unit:{lk.unit_id}{'(own)' if lk.own else ''}{'@' + lk.preset if lk.preset else ''}"
            if lk.unit_id
            else f"zone:{lk.zone_id}"
            for lk in v.links
        )
        kind = "PTZ" if v.ptz else "fixed"
        state = "" if v.active else " (removed)"
        print(f"{v.id:12} {kind:5} {v.name}{state}  {links}".rstrip())
    return 0


def cmd_camera_show(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.cameras import get_camera

    _print(get_camera(unit_of_work(command_settings(args)), args.camera_id), args.json)
    return 0


def cmd_camera_remove(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.cameras import remove_camera

    remove_camera(unit_of_work(command_settings(args)), args.camera_id, actor="cli")
    print(f"camera {args.camera_id} removed (its clips are kept until their retention ends)")
    return 0


def cmd_camera_link(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.cameras import link_camera

    view = link_camera(
        unit_of_work(command_settings(args)),
        args.camera_id,
        unit_id=args.unit,
        zone_id=args.zone,
        preset=args.preset or "",
        own=args.own,
        actor="cli",
    )
    _print(view, False)
    return 0


def cmd_camera_unlink(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.cameras import unlink_camera

    view = unlink_camera(
        unit_of_work(command_settings(args)),
        args.camera_id,
        unit_id=args.unit,
        zone_id=args.zone,
        actor="cli",
    )
    _print(view, False)
    return 0


def cmd_camera_purge_clips(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.camera_clips import purge_clips
    from helppoint.store.recording_files import recordings_path

    settings = command_settings(args)
    uow = unit_of_work(settings)
    purged = purge_clips(lambda: uow, recordings_path(settings))
    print(
        f"deleted {purged} clip(s) older than {settings.recording_retention_days} days "
        "(clips on evidence hold are kept)"
    )
    return 0


def cmd_camera_verify_clips(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.camera_clips import verify_clips
    from helppoint.store.recording_files import recordings_path

    settings = command_settings(args)
    checks = verify_clips(unit_of_work(settings), recordings_path(settings))
    bad = [c for c in checks if c.problem]
    for check in bad:
        print(f"clip {check.clip_id} ({check.path}): {check.problem}", file=sys.stderr)
    print(f"{len(checks)} clip(s) checked, {len(bad)} with problems")
    return 1 if bad else 0


def _detail_options(p: argparse.ArgumentParser, adding: bool) -> None:
    p.add_argument("camera_id", help="the camera's id, e.g. CAM-01")
    p.add_argument("--name", required=adding, help="what operators see, e.g. 'Market Square PTZ'")
    p.add_argument(
        "--rtsp",
        required=adding,
        metavar="URL",
        help="the stream, rtsp://host[:port]/path (an account in the URL is taken out and sealed)",
    )
    p.add_argument(
        "--onvif",
        metavar="HOST[:PORT]",
        help="the ONVIF service for PTZ (port 80 if not given)"
        + ("" if adding else "; '' makes the camera fixed"),
    )
    p.add_argument("--profile", metavar="TOKEN", help="ONVIF media profile (default: the first)")
    p.add_argument(
        "--user",
        metavar="NAME",
        help="the camera account's user name (RTSP and ONVIF)"
        + ("" if adding else "; '' removes the account"),
    )
    p.add_argument(
        "--password-stdin", action="store_true", help="read the account's password from stdin"
    )
    p.add_argument("--ask-password", action="store_true", help="ask for the account's password")
    p.add_argument("--lat", type=float, help="latitude (WGS84)")
    p.add_argument("--lon", type=float, help="longitude (WGS84)")
    p.add_argument("--description")
    p.add_argument("--json", action="store_true", help="print the camera as JSON")


def add_commands(sub: Any, db: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register `camera …` on the main parser's subcommands."""
    camera = sub.add_parser(
        "camera",
        help="cameras of the CCTV estate: register, link to units and zones (docs/cameras.md)",
    ).add_subparsers(dest="camera_command", metavar="ACTION", required=True)

    p = camera.add_parser(
        "add",
        help="register a camera",
        description="Register a camera of the CCTV estate: its RTSP stream, its ONVIF service "
        "(for PTZ), the account to reach both (sealed in the database, never shown again) and "
        "where it is. Then link it to units or zones with `camera link`.",
    )
    db(p)
    _detail_options(p, adding=True)
    p.set_defaults(func=cmd_camera_add)

    p = camera.add_parser(
        "update",
        help="change a camera's details",
        description="Change what is given; the rest stays.",
    )
    db(p)
    _detail_options(p, adding=False)
    p.set_defaults(func=cmd_camera_update)

    p = camera.add_parser("list", help="list cameras and their links")
    db(p)
    p.add_argument("--all", action="store_true", help="include removed cameras")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_camera_list)

    p = camera.add_parser("show", help="one camera and its links (never its password)")
    db(p)
    p.add_argument("camera_id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_camera_show)

    p = camera.add_parser(
        "remove",
        help="take a camera out of use",
        description="Remove a camera's links and account; its clips are kept (evidence).",
    )
    db(p)
    p.add_argument("camera_id")
    p.set_defaults(func=cmd_camera_remove)

    p = camera.add_parser(
        "link",
        help="show a camera on a unit's (or a zone's) incidents",
        description="Show the camera on every incident of a unit, turned to --preset (an ONVIF "
        "preset token) when the unit is pressed; or on the incidents of every unit of a zone. "
        "Linking again changes the preset.",
    )
    db(p)
    p.add_argument("camera_id")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--unit", help="unit id")
    where.add_argument("--zone", help="zone id")
    p.add_argument("--preset", help="ONVIF preset token to turn to on an activation (units only)")
    p.add_argument(
        "--own", action="store_true", help="the unit's own camera (shown first; units only)"
    )
    p.set_defaults(func=cmd_camera_link)

    p = camera.add_parser(
        "purge-clips",
        help="delete clips past retention (not those on evidence hold)",
        description="Delete camera clips older than recording_retention_days (default 31) "
        "unless a supervisor placed them on evidence hold. Each deletion is audited. The server "
        "also does this every hour.",
    )
    db(p)
    p.set_defaults(func=cmd_camera_purge_clips)
    p = camera.add_parser(
        "verify-clips",
        help="check every kept clip against its SHA-256",
        description="Recompute the SHA-256 of every kept clip and report files that are missing "
        "or changed (exit status 1 if any).",
    )
    db(p)
    p.set_defaults(func=cmd_camera_verify_clips)

    p = camera.add_parser("unlink", help="stop showing a camera for a unit or zone")
    db(p)
    p.add_argument("camera_id")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--unit", help="unit id")
    where.add_argument("--zone", help="zone id")
    p.set_defaults(func=cmd_camera_unlink)
