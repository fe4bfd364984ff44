"""Fixtures for the agent's tests: a protocol server in the test's loop and units to point at it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from helppoint.agent.backoff import Backoff
from helppoint.agent.hardware import UnitHardware, virtual_hardware
from helppoint.agent.link import DeviceLink, LinkExit
from helppoint.agent.outbox import Outbox
from helppoint.agent.unit import Agent

from .protocol_server import Changes, ProtocolServer

KEYS = {f"HP-0{n}": f"key-{n}" for n in range(1, 10)}


@dataclass
class Unit:
    """An agent, its link and hardware, and the task running the link (once started)."""

    agent: Agent
    link: DeviceLink
    hardware: UnitHardware
    outbox: Outbox
    task: asyncio.Task[LinkExit] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.link.run())

    async def stop(self) -> LinkExit | None:
        if self.task is None:
            return None
        self.link.stop()
        return await asyncio.wait_for(self.task, 10)


@pytest.fixture
def changes() -> Changes:
    return Changes()


@pytest.fixture
async def server(changes: Changes) -> AsyncIterator[ProtocolServer]:
    srv = ProtocolServer(KEYS, changes)
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = Outbox(tmp_path / "outbox.sqlite")
    yield box
    box.close()


@pytest.fixture
async def make_unit(changes: Changes) -> AsyncIterator[Callable[..., Unit]]:
    """Build a unit with virtual hardware and a link with fast backoff; stopped at the end."""
    made: list[Unit] = []

    def make(
        url: str,
        outbox: Outbox,
        unit_id: str = "HP-01",
        key: str | None = None,
        **link_options: Any,
    ) -> Unit:
        hardware = virtual_hardware(bounce_time=0.0)
        agent = Agent(unit_id, outbox, hardware, alarm_light_seconds=None)
        link_options.setdefault("backoff", Backoff(base=0.01, cap=0.05))
        link_options.setdefault("hello_timeout", 5.0)
        link = DeviceLink(
            url,
            unit_id,
            key if key is not None else KEYS[unit_id],
            outbox,
            status=agent.status,
            on_ack=lambda *_: changes.notify(),
            on_state=lambda *_: changes.notify(),
            on_renumber=lambda *_: changes.notify(),
            **link_options,
        )
        agent.attach(link)
        unit = Unit(agent, link, hardware, outbox)
        made.append(unit)
        return unit

    yield make
    for unit in made:
        await unit.stop()
        unit.agent.close()
