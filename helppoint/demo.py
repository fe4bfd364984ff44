"""`helppoint demo`: server, embedded database, eight simulated help points, console ready."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import webbrowser
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from helppoint import __version__
from helppoint.config import Settings
from helppoint.domain.model import Role
from helppoint.services.operators import add_operator
from helppoint.services.seed import seed_demo
from helppoint.store.database import make_engine, make_session_factory
from helppoint.store.migrate import upgrade
from helppoint.store.uow import UnitOfWork
from helppoint.web.app import create_app

log = logging.getLogger(__name__)


def run_demo(
    settings: Settings,
    data_dir: Path,
    press_every: float,
    seed: int | None,
    open_browser: bool,
    user: str,
    password: str,
) -> int:
    """Run the demo until interrupted; returns the exit code."""
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
    url = f"http://{settings.host}:{settings.port}/"
    device_url = f"ws://127.0.0.1:{settings.port}/device/v1"

    async def start_units(app: FastAPI) -> Callable[[], Awaitable[None]]:
        from helppoint.sim.behaviour import DemoBehaviour
        from helppoint.sim.fleet import Fleet

        fleet = Fleet(
            device_url,
            credentials,
            str(data_dir / "unit-outboxes.sqlite"),
            gpio_mock=True,
        )
        await fleet.start()
        app.state.demo_press = fleet.press
        behaviour = DemoBehaviour(fleet, mean_interval=press_every, rng=random.Random(seed))
        task = asyncio.create_task(behaviour.run()) if press_every > 0 else None

        async def stop() -> None:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await fleet.stop()

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
"""
    print(banner, flush=True)
    if open_browser:
        webbrowser.open(url)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        ws_max_size=settings.max_frame_bytes,
        timeout_graceful_shutdown=3,
    )
    return 0
