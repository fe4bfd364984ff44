"""Fixtures for camera, light and message tests: real agents on a live server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from helppoint.agent.backoff import Backoff
from helppoint.agent.hardware import UnitHardware, virtual_hardware
from helppoint.agent.link import DeviceLink, LinkExit
from helppoint.agent.outbox import Outbox
from helppoint.agent.unit import Agent
from tests.agent.protocol_server import Changes


@dataclass
class Unit:
    """A real agent with virtual hardware, linked to the live server."""

    agent: Agent
    link: DeviceLink
    hardware: UnitHardware
    outbox: Outbox
    task: asyncio.Task[LinkExit] | None = None


@pytest.fixture
def changes() -> Changes:
    return Changes()


@pytest.fixture
async def linked_unit(changes: Changes) -> AsyncIterator[Callable[..., Unit]]:
    """``linked_unit(server, "HP-06")``: an agent connected to ``server``, stopped at the end."""
    made: list[Unit] = []

    def make(server: Any, unit_id: str, camera: Any = None, **agent_options: Any) -> Unit:
        hardware = virtual_hardware(bounce_time=0.0)
        capabilities = hardware.capabilities
        if camera is not None:
            hardware.camera = camera
            capabilities += camera.capabilities()
        outbox = Outbox()
        agent_options.setdefault("alarm_light_seconds", None)
        agent = Agent(unit_id, outbox, hardware, **agent_options)
        link = DeviceLink(
            server.device_url,
            unit_id,
            server.key(unit_id),
            outbox,
            status=agent.status,
            capabilities=capabilities,
            backoff=Backoff(base=0.01, cap=0.05),
            on_ack=lambda *_: changes.notify(),
            on_state=lambda *_: changes.notify(),
        )
        agent.attach(link)
        unit = Unit(agent, link, hardware, outbox)
        unit.task = asyncio.create_task(link.run())
        made.append(unit)
        return unit

    yield make
    for unit in made:
        unit.link.stop()
        if unit.task is not None:
            await asyncio.wait_for(unit.task, 10)
        unit.agent.close()
        unit.outbox.close()
