"""The `helppoint` command: demo, serve, migrate, user, zone, unit, maintainer, agent, simulate …"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from helppoint import (
    __version__,
    cli_admin,
    cli_audit,
    cli_interventions,
    cli_ops,
    cli_plans,
    cli_reports,
    cli_security,
    cli_sia,
    cli_test_activity,
    cli_tokens,
)
from helppoint.cli_context import CommandError, command_settings, unit_of_work
from helppoint.config import ConfigError, Settings
from helppoint.domain.errors import DomainError
from helppoint.store.database import DatabaseURLError
from helppoint.store.migrate import MigrationError

DEMO_USER = "demo"
DEMO_PASSWORD = "demo-operator"


def cmd_migrate(args: argparse.Namespace) -> int:
    from helppoint.store.database import make_engine
    from helppoint.store.migrate import current_revision, head_revision, upgrade

    settings = command_settings(args)
    engine = make_engine(settings.database_url)
    print(f"database {engine.url.render_as_string(hide_password=True)}")
    if args.check:
        from helppoint.store.upgrade_check import check_upgrade, report_lines

        check = check_upgrade(engine)
        print("\n".join(report_lines(check)))
        return 1 if check.steps else 0
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    print(f"schema {before or 'empty'} -> {after} (newest known: {head_revision(engine)})")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from helppoint.gcpauses import tune_for_serving
    from helppoint.store.database import make_engine
    from helppoint.store.migrate import upgrade
    from helppoint.web.app import create_app
    from helppoint.web.server_protocols import HTTP_PROTOCOL, WS_PROTOCOL

    settings = command_settings(args)
    engine = make_engine(settings.database_url)
    workers = args.workers
    if workers < 1:
        raise CommandError("--workers must be 1 or more")
    if workers > 1 and engine.dialect.name != "postgresql":
        raise CommandError(
            "--workers above 1 needs PostgreSQL (--database-url postgresql://...): the server "
            "processes share the database, and SQLite takes one writing process"
        )
    if not args.no_migrate:
        upgrade(engine)
    server_options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "ws_max_size": settings.max_frame_bytes,
        # Proxies whose X-Forwarded-* are believed: the client address (sign-in throttling) and
        # HTTPS (Secure cookies, HSTS) come from them (docs/security.md).
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        # WebSocket pings only find dead connections for clean-up: units heartbeat (and are
        # supervised by their heartbeats), consoles reconnect by themselves. Every 60 s rather
        # than uvicorn's 20: with tens of thousands of unit links, 20 s pings cost the server
        # more than the units' heartbeats did (docs/performance.md).
        "ws_ping_interval": 60,
        "ws_ping_timeout": 20,
        "timeout_graceful_shutdown": 5,
        # uvicorn kills a worker that has not answered its health check within this; 5 s (its
        # default) killed busy but healthy workers while tens of thousands of units connected,
        # dropping all their links at once. A hung worker is rarer than a busy one.
        "timeout_worker_healthcheck": 60,
        # uvicorn's protocols, minus what a unit's link keeps after its handshake.
        "http": HTTP_PROTOCOL,
        "ws": WS_PROTOCOL,
    }
    if settings.log_format == "json":
        from helppoint.logformat import use_json_logs, uvicorn_log_config

        use_json_logs(settings.log_level)
        server_options["log_config"] = uvicorn_log_config(settings.log_level)
    where = f"http://{settings.host}:{settings.port}/"
    if workers == 1:
        app = create_app(settings, engine)
        tune_for_serving()  # once the app is built (helppoint/gcpauses.py)
        print(f"helppoint {__version__} serving on {where}", flush=True)
        uvicorn.run(app, **server_options)
        return 0
    engine.dispose()
    # Each worker process builds its own app from the same settings (passed in the
    # environment); they share the listening socket, the database and, through it, alarms,
    # unit links and jobs (docs/deployment.md).
    if args.config:
        os.environ["HELPPOINT_CONFIG"] = str(Path(args.config).resolve())
    os.environ["HELPPOINT_DATABASE_URL"] = settings.database_url
    os.environ["HELPPOINT_HOST"] = settings.host
    os.environ["HELPPOINT_PORT"] = str(settings.port)
    _metrics_dir_for_workers()
    print(f"helppoint {__version__} serving on {where} with {workers} processes", flush=True)
    uvicorn.run(
        "helppoint.web.app:app_from_environment", factory=True, workers=workers, **server_options
    )
    return 0


def _metrics_dir_for_workers() -> None:
    """Worker processes share one port, so a scrape reaches any of them: they keep their
    metrics in files of prometheus-client's multiprocess mode (helppoint/web/metrics.py), in
    PROMETHEUS_MULTIPROC_DIR if set (emptied now), else in a new private directory."""
    from helppoint.web.metrics import prepare_multiprocess_dir

    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        directory = tempfile.mkdtemp(prefix="helppoint-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    prepare_multiprocess_dir(directory)


def cmd_demo(args: argparse.Namespace) -> int:
    from helppoint.demo import run_demo

    if args.data_dir:
        data_dir = Path(args.data_dir)
    else:
        data_dir = Path(tempfile.mkdtemp(prefix="helppoint-demo-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings.load(Path(args.config) if args.config else None).with_values(
        {
            "database_url": f"sqlite:///{data_dir / 'helppoint.sqlite'}",
            "host": args.host,
            "port": args.port,
        }
    )
    return run_demo(
        settings,
        data_dir,
        press_every=args.press_every,
        seed=args.seed,
        open_browser=args.open,
        user=DEMO_USER,
        password=DEMO_PASSWORD,
        history=not args.no_history,
    )


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise CommandError("no terminal to ask for a password: use --password-stdin")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        raise CommandError("the two passwords differ")
    return first


def cmd_user_add(args: argparse.Namespace) -> int:
    from helppoint.services.operators import add_operator, parse_role

    settings = command_settings(args)
    role = parse_role(args.role)
    password = _read_password(args)
    operator = add_operator(
        unit_of_work(settings),
        args.username,
        password,
        role,
        display_name=args.name or "",
        actor="cli",
        replace_password=args.reset,
    )
    print(
        f"user {operator.username} ({operator.role.value}) {'updated' if args.reset else 'added'}"
    )
    return 0


def cmd_agent(args: argparse.Namespace) -> int:
    from helppoint.agent.main import settings_from
    from helppoint.agent.runner import run_agent
    from helppoint.agent.settings import AgentConfigError

    config_file = args.config_file or args.config  # `helppoint --config F agent` works too
    try:
        settings = settings_from(args, config_file)
    except AgentConfigError as exc:
        raise ConfigError(str(exc)) from exc
    return run_agent(settings)


def cmd_simulate(args: argparse.Namespace) -> int:
    from helppoint.services.units import ensure_zone, provision_unit
    from helppoint.sim.runner import run_simulation

    if args.credentials:
        try:
            data = json.loads(Path(args.credentials).read_text())
            credentials = [(str(item["unit"]), str(item["key"])) for item in data]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CommandError(
                f"cannot read credentials from {args.credentials}: {exc}; "
                'expected a JSON list of {"unit": ..., "key": ...}'
            ) from exc
    else:
        if args.units < 1:
            raise CommandError("--units must be at least 1")
        credentials = []
        with unit_of_work(command_settings(args)) as uow:
            ensure_zone(uow, "simulation", "Simulated units")
            uow.flush()
            for n in range(1, args.units + 1):
                unit_id = f"SIM-{n:04d}"
                lat = 52.2405 + 0.002 * ((n - 1) % 20)
                lon = -0.9020 + 0.002 * ((n - 1) // 20 % 20)
                provisioned = provision_unit(
                    uow, unit_id, f"Simulated unit {n}", "simulation", lat, lon, actor="simulate"
                )
                credentials.append((provisioned.unit_id, provisioned.key))
            uow.commit()
    outbox = args.outbox or str(Path(tempfile.mkdtemp(prefix="helppoint-sim-")) / "outbox.sqlite")
    return run_simulation(
        server_url=args.server,
        credentials=credentials,
        outbox_path=outbox,
        interactive=not args.no_input,
        press_every=args.press_every,
        seed=args.seed,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helppoint",
        description="Open control-room platform for public SOS Help Points.",
        epilog="Settings come from HELPPOINT_* environment variables or a TOML file (--config); "
        "see docs/configuration.md.",
    )
    parser.add_argument("--version", action="version", version=f"helppoint {__version__}")
    parser.add_argument("--config", help="TOML settings file (also HELPPOINT_CONFIG)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def db(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--database-url",
            help="sqlite:///path or postgresql://… (default: HELPPOINT_DATABASE_URL or "
            "./helppoint-data/helppoint.sqlite)",
        )

    p = sub.add_parser(
        "demo",
        help="run the server with simulated help points, ready to try in a browser",
        description="Create a fresh database, seed eight help points in two zones of "
        "Northampton, start the server and simulated units that press now and then, and print "
        "the console URL and a demo login.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8800, help="port (default 8800)")
    p.add_argument("--data-dir", help="keep the demo database here (default: a new temp dir)")
    p.add_argument(
        "--press-every",
        type=float,
        default=40.0,
        help="average seconds between simulated presses (default 40; 0 = only manual presses)",
    )
    p.add_argument("--seed", type=int, help="random seed for the simulated presses")
    p.add_argument("--open", action="store_true", help="open the console in a web browser")
    p.add_argument(
        "--no-history",
        action="store_true",
        help="start without the year of history the reports show (it takes a minute or two)",
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "serve",
        help="run the server (console, API, device link)",
        description="Run the control-room server. Migrates the database first.",
    )
    db(p)
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8800)")
    p.add_argument("--no-migrate", action="store_true", help="do not migrate on start")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="server processes sharing the port (default 1; above 1 needs PostgreSQL)",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "migrate",
        help="create or upgrade the database schema",
        description="Create or upgrade the database schema (docs/deployment.md, Upgrades).",
    )
    db(p)
    p.add_argument(
        "--check",
        action="store_true",
        help="say what the upgrade would change, step by step, and change nothing: whether every "
        "row stays, how long each step takes on this data and whether processes of the previous "
        "release may keep running meanwhile (exit status 1 when there is something to do)",
    )
    p.set_defaults(func=cmd_migrate)

    user = sub.add_parser("user", help="control-room users").add_subparsers(
        dest="user_command", metavar="ACTION", required=True
    )
    p = user.add_parser("add", help="add a user (asks for the password)")
    db(p)
    p.add_argument("username")
    p.add_argument(
        "--role", default="operator", help="operator, supervisor, admin, auditor or police"
    )
    p.add_argument("--name", help="display name")
    p.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    p.add_argument("--reset", action="store_true", help="reset an existing user's password/role")
    p.set_defaults(func=cmd_user_add)
    cli_admin.add_user_commands(user, db)
    cli_security.add_commands(user, db)

    zone = sub.add_parser("zone", help="zones of the scheme").add_subparsers(
        dest="zone_command", metavar="ACTION", required=True
    )
    cli_admin.add_zone_commands(zone, db)

    unit = sub.add_parser("unit", help="help point units").add_subparsers(
        dest="unit_command", metavar="ACTION", required=True
    )
    cli_admin.add_unit_commands(unit, db)
    cli_security.add_unit_commands(unit, db)
    cli_test_activity.add_unit_commands(unit, db)
    cli_admin.add_maintainer_commands(sub, db)
    cli_test_activity.add_channel_commands(sub, db)
    cli_tokens.add_commands(sub, db)
    cli_admin.add_self_test_commands(sub, db)

    from helppoint.agent.main import DESCRIPTION, add_arguments

    p = sub.add_parser(
        "agent", help="run the software of a help point unit", description=DESCRIPTION
    )
    add_arguments(p)
    p.set_defaults(func=cmd_agent)

    p = sub.add_parser(
        "simulate",
        help="run N simulated units against a server",
        description="Run simulated units in one process. Type `press 3`, `press SIM-0003`, "
        "`hold 3 2`, `tamper 3`, `status` or `quit` on standard input.",
    )
    db(p)
    p.add_argument("--units", type=int, default=8, help="number of units (default 8)")
    p.add_argument(
        "--server",
        default="ws://127.0.0.1:8800/device/v1",
        help="device link URL (default ws://127.0.0.1:8800/device/v1)",
    )
    p.add_argument(
        "--credentials",
        help="JSON list of {unit, key}; without it, units SIM-0001… are provisioned in the "
        "configured database",
    )
    p.add_argument("--outbox", help="outbox database path (default: a new temp file)")
    p.add_argument("--press-every", type=float, help="press a random unit every ~N seconds")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--no-input", action="store_true", help="do not read commands from stdin")
    p.set_defaults(func=cmd_simulate)

    cli_audit.add_commands(sub, db)
    cli_ops.add_commands(sub, db)
    cli_plans.add_commands(sub, db)
    cli_sia.add_commands(sub, db)
    cli_reports.add_commands(sub, db)
    cli_interventions.add_commands(sub, db)
    from helppoint import cli_calls

    cli_calls.add_commands(sub, db)
    from helppoint import cli_cameras

    cli_cameras.add_commands(sub, db)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # Library chatter (migrations, every HTTP request a unit makes) only with --verbose.
        for noisy in ("alembic", "httpx", "httpcore", "aioice", "aiortc"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        result: int = args.func(args)
        return result
    except (CommandError, ConfigError, DomainError, DatabaseURLError, MigrationError) as exc:
        print(f"helppoint: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
