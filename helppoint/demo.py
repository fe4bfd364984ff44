"""`helppoint demo`: server, embedded database, eight simulated help points, console ready."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import webbrowser
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import FrameType

import uvicorn
from fastapi import FastAPI

from helppoint import __version__
from helppoint.cameras.demo import start_council_camera
from helppoint.config import Settings
from helppoint.domain.model import Role
from helppoint.services.operators import add_operator
from helppoint.services.plans import ensure_demo_plans
from helppoint.services.seed import seed_demo
from helppoint.store.database import make_engine, make_session_factory
from helppoint.store.migrate import upgrade
from helppoint.store.sealed import sealer_for
from helppoint.store.uow import UnitOfWork
from helppoint.tasks import cancel_and_wait
from helppoint.web.app import create_app
from helppoint.web.server_protocols import HTTP_PROTOCOL, WS_PROTOCOL

log = logging.getLogger(__name__)


def run_demo(
    settings: Settings,
    data_dir: Path,
    press_every: float,
    seed: int | None,
    open_browser: bool,
    user: str,
    password: str,
    history: bool = True,
) -> int:
    """Run the demo until interrupted; returns the exit code."""
    problem = port_problem(settings.host, settings.port)
    if problem:
        print(
            f"helppoint: error: cannot listen on {settings.host}:{settings.port}: {problem}. "
            "Is another helppoint running? Choose another port with --port.",
            file=sys.stderr,
        )
        return 2
    engine = make_engine(settings.database_url)
    upgrade(engine)
    session_factory = make_session_factory(engine)
    credentials = [(unit.unit_id, unit.key) for unit in seed_demo(UnitOfWork(session_factory))]
    add_operator(
        UnitOfWork(session_factory),
        user,
        password,
        Role.ADMIN,
        display_name="Demo operator",
        actor="demo",
        replace_password=True,
    )
    ensure_demo_plans(lambda: UnitOfWork(session_factory))
    if history:
        _fill_history(lambda: UnitOfWork(session_factory))
    # One standard SIP intercom beside the simulated agents (docs/sip.md), if installed.
    from helppoint.sip import demo as sip_demo

    settings, intercom, sip_line = sip_demo.prepare(
        settings, lambda: UnitOfWork(session_factory), data_dir
    )
    # The council camera (helppoint/cameras/demo.py) quits with this process, however it ends.
    camera, camera_line = start_council_camera(
        lambda: UnitOfWork(session_factory), sealer_for(settings)
    )
    url = f"http://{settings.host}:{settings.port}/"
    device_url = f"ws://127.0.0.1:{settings.port}/device/v1"

    async def start_units(app: FastAPI) -> Callable[[], Awaitable[None]]:
        from helppoint.sim.behaviour import RandomPresser
        from helppoint.sim.fleet import Fleet

        fleet = Fleet(
            device_url,
            credentials,
            str(data_dir / "unit-outboxes.sqlite"),
            gpio_mock=True,
            microphone="silence",  # a quiet street; the random presser's callers differ
        )

        def press(unit_id: str) -> None:
            if intercom is not None and unit_id == sip_demo.UNIT:
                sip_demo.press(intercom, settings.sip_port)
            else:
                fleet.press(unit_id)

        app.state.demo_press = press

        async def run_units() -> None:
            # The lifespan runs before uvicorn listens: connect the units once it does.
            await _wait_for_port("127.0.0.1", settings.port)
            await fleet.start()
            if intercom is not None:
                await asyncio.to_thread(intercom.start)
            if press_every > 0:
                presser = RandomPresser.every(fleet.unit_ids, press_every, seed=seed)
                await presser.run(fleet.press, fleet.hear)

        task = asyncio.create_task(run_units())

        async def stop() -> None:
            await cancel_and_wait(task)
            with contextlib.suppress(RuntimeError):
                await fleet.stop()
            if intercom is not None:
                await asyncio.to_thread(intercom.stop)

        return stop

    app = create_app(settings, engine, on_startup=start_units)
    banner = f"""
  helppoint {__version__} demo
  ─────────────────────────────────────────────
  Console:  {url}
  Login:    {user} / {password}
  Data:     {data_dir}
  Eight simulated help points (Northampton: Racecourse path and town centre) press now
  and then; press one yourself from the console's demo panel. Ctrl+C stops the demo.
  {sip_line}
  {camera_line}
"""
    print(banner, flush=True)
    for noisy in ("helppoint.agent", "helppoint.sim.fleet", "helppoint.gateway"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if open_browser:
        webbrowser.open(url)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        ws_max_size=settings.max_frame_bytes,
        timeout_graceful_shutdown=3,
        http=HTTP_PROTOCOL,
        ws=WS_PROTOCOL,
    )
    try:
        _DemoServer(config).run()
    finally:
        if camera is not None:
            camera.stop()
    return 0


class _DemoServer(uvicorn.Server):
    """Quiets the simulated units on Ctrl+C: uvicorn drops their links before the lifespan
    shutdown stops them, and their reconnect warnings would only be noise."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        logging.getLogger("helppoint.agent").setLevel(logging.ERROR)
        super().handle_exit(sig, frame)


def _fill_history(uow_factory: Callable[[], UnitOfWork]) -> None:
    """A year of history before the units connect, so the reports have content at once
    (services/history.py); kept when the demo's --data-dir is used again."""
    from helppoint.domain.errors import InvalidInput
    from helppoint.services.clock import utcnow
    from helppoint.services.history import fill_history

    print("Filling a year of history for the reports (a minute or two)…", flush=True)
    try:
        summary = fill_history(uow_factory, utcnow(), operator="demo")
    except InvalidInput as exc:
        print(f"  history not filled: {exc}", flush=True)
        return
    print(
        f"  {summary.activations:,} activations since {summary.first:%d %B %Y}, "
        f"{summary.genuine} genuine: see /reports",
        flush=True,
    )


async def _wait_for_port(host: str, port: int) -> None:
    while True:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return


def port_problem(host: str, port: int) -> str | None:
    """Why the address cannot be listened on, or None if it can."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None
