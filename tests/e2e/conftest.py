"""Browser fixtures: Debian Chromium via Playwright, simulated units, signed-in consoles."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Playwright, expect, sync_playwright

from .harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    UNREACHABLE_TILES,
    Consoles,
    RestartableServer,
    SimulatedUnit,
)

expect.set_options(timeout=10_000)


# Module scope, not session: sync Playwright keeps an event loop running on the main thread
# while it is open, which would break the asyncio tests of other modules run after these.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def console_server(server_factory: Callable[..., Any]) -> Any:
    """A live server (fresh SQLite, eight demo units) whose map tiles can never load."""
    # Supervision off: tests here record events with past times, which would report units down.
    return server_factory(map_tiles_url=UNREACHABLE_TILES, supervision=False)


@pytest.fixture
def consoles(browser: Browser, console_server: Any) -> Iterator[Consoles]:
    opened = Consoles(browser, console_server)
    yield opened
    opened.close()
    assert not opened.errors, f"JavaScript errors in the page: {opened.errors}"


@pytest.fixture
def units(console_server: Any) -> Iterator[Callable[[str], SimulatedUnit]]:
    """Connect simulated units by id: `units("HP-03").press()`."""
    started: list[SimulatedUnit] = []

    def start(unit_id: str) -> SimulatedUnit:
        unit = SimulatedUnit(console_server, unit_id).connect()
        started.append(unit)
        return unit

    yield start
    for unit in started:
        unit.stop()


@pytest.fixture
def restartable_server(sqlite_database: Any) -> Iterator[RestartableServer]:
    server = RestartableServer(sqlite_database, {"map_tiles_url": UNREACHABLE_TILES})
    server.start()
    yield server
    server.stop()
