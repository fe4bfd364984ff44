"""Fixtures of the SIP help point tests: a SIP unit in the database, baresip devices."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from helppoint.services.seed import seed_demo
from helppoint.services.sip_units import SipUnitAdded, add_sip_unit
from helppoint.services.supervision import set_supervision
from tests.conftest import Database

from .device import BaresipDevice, free_port, require_sip_software

PASSWORD = "correct-horse-battery-staple"
#: The SIP unit of these tests (a racecourse gate intercom).
UNIT = "SIP-01"


def add_unit(
    database: Database,
    unit_id: str = UNIT,
    keepalive: int = 5,
    grace: int = 1,
    light_on: str = "none",
    light_off: str = "none",
    srtp: bool = False,
) -> SipUnitAdded:
    """A SIP unit in the demo's racecourse zone, supervised every `keepalive` seconds."""
    with database.uow() as uow:
        added = add_sip_unit(
            uow,
            unit_id,
            "Racecourse gate intercom",
            "racecourse",
            52.2364,
            -0.9025,
            realm="helppoint",
            keepalive=keepalive,
            password=PASSWORD,
            light_on=light_on,
            light_off=light_off,
            srtp=srtp,
        )
        set_supervision(uow, unit_id, None, grace, actor="test")
        uow.commit()
    return added


def within(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    """Wait until `condition()` is true (checked every 50 ms); its value, or fail saying what."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.05)


@pytest.fixture
def sip_server(sqlite_database: Database, server_factory: Any) -> Iterator[Any]:
    """A live server with the SIP gateway on, and one SIP unit (UNIT, password PASSWORD)."""
    require_sip_software()
    seed_demo(sqlite_database.uow())
    add_unit(sqlite_database)
    server = server_factory(sip_port=free_port(), sip_keepalive=5)
    yield server


@pytest.fixture
def devices(tmp_path: Path) -> Iterator[Callable[..., BaresipDevice]]:
    """Start baresip devices; all are stopped at the end."""
    started: list[BaresipDevice] = []

    def start(
        server: Any, username: str = UNIT, password: str = PASSWORD, **kw: Any
    ) -> BaresipDevice:
        port = server.app.state.settings.sip_port
        device = BaresipDevice(
            tmp_path / f"device-{len(started)}", username, password, ("127.0.0.1", port), **kw
        )
        started.append(device)
        return device.start()

    yield start
    for device in started:
        device.stop()
