"""When an incident closes, put its unit back to rest: light off, camera to its home preset.

Listens for the close (services/Topic.UNIT_RESET, published after the commit) and
sends the two commands over the unit's device link, each recorded against the incident so
the unit's confirmation shows on it. A unit with another open incident keeps flashing; a unit
that is offline at the close switches its light off by itself when its alarm time runs out.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any, cast

from starlette.concurrency import run_in_threadpool

from helppoint.gateway.broker import Broker
from helppoint.gateway.device_link import DeviceLinkHub, UnitNotConnected
from helppoint.services import unit_commands
from helppoint.store.uow import UnitOfWork
from helppoint.tasks import cancel_and_wait
from helppoint.topics import Topic, UnitResetMessage

log = logging.getLogger(__name__)

#: What a unit is told when its incident closes.
REST_COMMANDS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("flash_light", {"on": False}),
    ("camera_preset", {"preset": "home"}),
)


class UnitReset:
    """The background task that resets units after their incident closes."""

    def __init__(
        self, uow_factory: Callable[[], UnitOfWork], broker: Broker, hub: DeviceLinkHub
    ) -> None:
        self._uow_factory = uow_factory
        self._broker = broker
        self._hub = hub
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        """Subscribe, then return: no close published after this is missed."""
        self._task = asyncio.create_task(self._run(), name="unit-reset")
        await self._ready.wait()

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _run(self) -> None:
        async with self._broker.subscribe([Topic.UNIT_RESET]) as subscription:
            self._ready.set()
            while True:
                topic, message = await subscription.get()
                if topic != Topic.UNIT_RESET:
                    continue
                closed = cast(UnitResetMessage, message)
                try:
                    await self.reset(str(closed["unit_id"]), int(closed["incident_id"]))
                except Exception:  # one failed reset must not stop the next ones
                    log.exception("could not reset unit after incident %s", message)

    async def reset(self, unit_id: str, incident_id: int) -> list[str]:
        """Send the rest commands for a closed incident; returns the command ids sent."""
        if not self._hub.has_link(unit_id):
            log.info("unit %s is offline at the close of incident %s", unit_id, incident_id)
            return []
        if await run_in_threadpool(
            unit_commands.unit_has_other_open_incident, self._uow_factory(), unit_id, incident_id
        ):
            return []
        sent = []
        for command, args in REST_COMMANDS:
            command_id = uuid.uuid4().hex
            await run_in_threadpool(
                unit_commands.record_sent,
                self._uow_factory(),
                command_id,
                incident_id,
                command,
                args,
                unit_commands.SYSTEM,
                require_open=False,
            )
            try:
                await self._hub.send_command(unit_id, command, args, command_id)
            except UnitNotConnected:
                await run_in_threadpool(
                    unit_commands.record_result,
                    self._uow_factory(),
                    unit_id,
                    command_id,
                    False,
                    "not sent: the unit went offline",
                )
                break
            sent.append(command_id)
        return sent
