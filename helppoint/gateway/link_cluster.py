"""The device links of a cluster's other processes (helppoint/cluster).

Each unit is linked to one server process. A command or call frame for a unit linked to
another process is forwarded to that one over the cluster's bus; what another process says
of its links (a unit linked there now, a call frame from a unit linked there, a unit's key
changed) is acted on here. `DeviceLinkHub` (device_link.py) keeps the socket loop and asks
this for what lies beyond its own links.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import TYPE_CHECKING, Any, Protocol

from starlette.concurrency import run_in_threadpool

from helppoint.gateway.broker import Broker
from helppoint.gateway.frames import CallAnswer, CallEnd, FrameError, parse_frame
from helppoint.gateway.link_events import LinkEvents
from helppoint.topics import Topic

if TYPE_CHECKING:
    from helppoint.cluster import Cluster


class LocalLinks(Protocol):
    """This process's device links, as the other processes' messages act on them."""

    def send_soon(self, unit_id: str, frame: dict[str, Any]) -> bool:
        """Send `frame` on the unit's link here in the background; False if not linked here."""

    def drop_replaced(self, unit_id: str) -> bool:
        """The unit linked to another process: end its link here (if any: True)."""

    def has_link(self, unit_id: str) -> bool:
        """Whether the unit is linked to this process."""

    async def disconnect(self, unit_id: str, reason: str) -> bool:
        """Close the unit's link here (its key changed); False if not linked here."""


class ClusterLinks:
    """This process's part in the cluster's device links."""

    def __init__(
        self, cluster: Cluster, here: LocalLinks, broker: Broker, events: LinkEvents
    ) -> None:
        self._cluster = cluster
        self._here = here
        self._broker = broker
        self._events = events
        cluster.bus.on(Topic.FORWARDED_COMMAND, self._forwarded_command)
        cluster.bus.on(Topic.UNITS, self._unit_elsewhere)
        cluster.bus.on(Topic.FORWARDED_FRAME, self._forwarded_frame)
        cluster.bus.on(Topic.UNIT_CALL_FRAME, self._call_frame_elsewhere)
        cluster.bus.on(Topic.UNIT_KEY, self._key_changed)

    # -- what this process's links ask ------------------------------------------------

    def remote_units(self) -> dict[str, str]:
        """Unit id -> process id, for units linked to another live process (blocking)."""
        return self._cluster.presence.remote_units()

    def linked(self, unit_id: str) -> None:
        """The unit linked to this process."""
        self._cluster.presence.linked(unit_id)

    def unlinked(self, unit_id: str) -> None:
        """The unit's link to this process ended."""
        self._cluster.presence.unlinked(unit_id)

    async def send_command(
        self, unit_id: str, command: str, args: dict[str, Any], command_id: str | None
    ) -> str | None:
        """Forward a command to the process that holds the unit's link; its id, or None if no
        process holds one."""
        remote = await run_in_threadpool(self._cluster.presence.remote_units)
        process = remote.get(unit_id)
        if process is None:
            return None
        command_id = command_id or uuid.uuid4().hex
        self._cluster.bus.forward(
            Topic.FORWARDED_COMMAND,
            {"to": process, "unit_id": unit_id, "id": command_id, "command": command, "args": args},
        )
        return command_id

    async def send_frame(self, unit_id: str, frame: dict[str, Any]) -> bool:
        """Forward a call frame to the process that holds the unit's link; False if none does."""
        remote = await run_in_threadpool(self._cluster.presence.remote_units)
        if unit_id not in remote:
            return False
        self._cluster.bus.forward(
            Topic.FORWARDED_FRAME, {"to": remote[unit_id], "unit_id": unit_id, "frame": frame}
        )
        return True

    def call_frame(self, unit_id: str, frame: dict[str, Any]) -> None:
        """A unit linked here answered or ended a call: the call may have been set up by
        another process (the operator's)."""
        self._cluster.bus.forward(Topic.UNIT_CALL_FRAME, {"unit_id": unit_id, "frame": frame})

    # -- what the other processes say -------------------------------------------------

    def _key_changed(self, message: dict[str, Any]) -> None:
        """A unit's key was rotated or the unit revoked (on any process): drop its link here."""
        unit_id = str(message.get("unit_id"))
        if self._here.has_link(unit_id):
            reason = str(message.get("reason") or "key changed")
            asyncio.get_running_loop().create_task(self._here.disconnect(unit_id, reason))

    def _forwarded_command(self, message: dict[str, Any]) -> None:
        """A command sent through another process to a unit linked to this one."""
        if message.get("to") != self._cluster.process_id:
            return
        unit_id, command_id = str(message.get("unit_id")), str(message.get("id"))
        frame = {
            "type": "command",
            "id": command_id,
            "command": message.get("command"),
            "args": message.get("args") or {},
        }
        if not self._here.send_soon(unit_id, frame):
            self._broker.publish(
                Topic.COMMANDS,
                {
                    "unit_id": unit_id,
                    "id": command_id,
                    "ok": False,
                    "detail": f"unit {unit_id} is not connected",
                },
            )

    def _forwarded_frame(self, message: dict[str, Any]) -> None:
        """A call frame sent through another process to a unit linked to this one."""
        if message.get("to") != self._cluster.process_id:
            return
        frame = message.get("frame")
        if isinstance(frame, dict):
            # Not linked here: the sender's call set-up times out and says so.
            self._here.send_soon(str(message.get("unit_id")), frame)

    def _call_frame_elsewhere(self, message: dict[str, Any]) -> None:
        """A unit linked to another process answered or ended a call (maybe one set up here)."""
        call_frame = self._events.call_frame
        if call_frame is None:
            return
        unit_id, frame = str(message.get("unit_id")), message.get("frame")
        if not isinstance(frame, dict):
            return
        try:
            parsed = parse_frame(json.dumps(frame))
        except FrameError:
            return
        if isinstance(parsed, CallAnswer | CallEnd):
            call_frame(unit_id, parsed)

    def _unit_elsewhere(self, message: dict[str, Any]) -> None:
        """Another process announced a unit's link: an older link here is stale."""
        self._broker.publish_local(Topic.UNITS, message)
        unit_id = str(message.get("id"))
        if not message.get("connected"):
            unit_gone = self._events.unit_gone
            if not self._here.has_link(unit_id) and unit_gone is not None:
                unit_gone(unit_id)  # e.g. a call set up here through that process
            return
        if self._here.drop_replaced(unit_id):
            self._cluster.presence.unlinked(unit_id)
