"""``helppoint simulate``: run a fleet of simulated units against a server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from collections.abc import AsyncIterator, Callable
from typing import TextIO

from helppoint.agent.outbox import OutboxError
from helppoint.agent.runner import EXIT_CONFIG, EXIT_OK, stop_on_signals
from helppoint.sim.behaviour import RandomPresser
from helppoint.sim.console import FleetConsole
from helppoint.sim.fleet import MAX_GPIO_MOCK_UNITS, Fleet

log = logging.getLogger(__name__)


def run_simulation(
    server_url: str,
    credentials: list[tuple[str, str]],
    outbox_path: str,
    interactive: bool,
    press_every: float | None,
    seed: int | None,
) -> int:
    """Run simulated units until SIGINT/SIGTERM (or ``quit``); returns the exit code.

    ``interactive`` reads console commands from stdin; ``press_every`` (seconds) starts the
    random presser, which begins a scenario every ``press_every`` seconds on average (None or 0:
    only the presses typed on the console).
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    if len(credentials) > MAX_GPIO_MOCK_UNITS:
        # One "connected" line per unit drowns everything else in a large fleet.
        logging.getLogger("helppoint.agent").setLevel(logging.WARNING)
    return asyncio.run(_main(server_url, credentials, outbox_path, interactive, press_every, seed))


async def _main(
    server_url: str,
    credentials: list[tuple[str, str]],
    outbox_path: str,
    interactive: bool,
    press_every: float | None,
    seed: int | None,
) -> int:
    stop = asyncio.Event()
    with stop_on_signals(stop):
        return await simulate(
            server_url,
            credentials,
            outbox_path,
            interactive=interactive,
            press_every=press_every,
            seed=seed,
            stop=stop,
            lines=stdin_lines() if interactive else None,
        )


async def simulate(
    server_url: str,
    credentials: list[tuple[str, str]],
    outbox_path: str,
    *,
    interactive: bool = False,
    press_every: float | None = None,
    seed: int | None = None,
    stop: asyncio.Event | None = None,
    lines: AsyncIterator[str] | None = None,
    write: Callable[[str], None] | None = None,
) -> int:
    """Run a fleet until ``stop`` is set or the console quits; returns the exit code."""
    out = write or _print
    if not credentials:
        out("error: no units to simulate")
        return EXIT_CONFIG
    if press_every is not None and press_every < 0:
        out("error: press_every must be a positive number of seconds (or 0 for none)")
        return EXIT_CONFIG
    random_presses = bool(press_every)
    try:
        fleet = Fleet(server_url, credentials, outbox_path, seed=seed)
        await fleet.start()
    except (ValueError, OutboxError) as exc:
        out(f"error: {exc}")
        return EXIT_CONFIG
    stop = stop or asyncio.Event()
    waits: list[asyncio.Task[object]] = [asyncio.create_task(stop.wait())]
    console = FleetConsole(fleet, out)
    if press_every:
        presser = RandomPresser.every(fleet.unit_ids, press_every, seed=seed)
        waits.append(asyncio.create_task(presser.run(fleet.press, fleet.hear)))
    if interactive:
        out(f"simulating {len(credentials)} unit(s) against {server_url}; type help for commands")
        console_task = _console(console, lines or stdin_lines(), random_presses)
        waits.append(asyncio.create_task(console_task))
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        console.cancel_holds()
        for task in waits:
            task.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
        await fleet.stop()
    return EXIT_OK


async def _console(console: FleetConsole, lines: AsyncIterator[str], keep_running: bool) -> None:
    """Carry out commands until ``quit``; at the end of input, stop unless presses go on."""
    async for line in lines:
        if not await console.handle(line):
            return
    if keep_running:
        # Input may be /dev/null under a service manager: the random presses carry on.
        console.write("end of input; random presses go on until Ctrl+C")
        await asyncio.Event().wait()


async def stdin_lines(stream: TextIO | None = None) -> AsyncIterator[str]:
    """Lines of ``stream`` (stdin by default), read on a thread so the loop never blocks."""
    source = stream or sys.stdin
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def deliver(line: str | None) -> None:
        # The loop may be gone by the time a line arrives after quit.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(queue.put_nowait, line)

    def read() -> None:
        for line in source:
            deliver(line)
        deliver(None)

    threading.Thread(target=read, name="simulate-stdin", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line


def _print(text: str) -> None:
    print(text, flush=True)
