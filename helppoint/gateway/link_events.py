"""What the rest of the server hears of the device links, and the units reached without one.

`DeviceLinkHub` (device_link.py) is given its `LinkEvents` when it is made, and its
`OtherUnits` by the SIP gateway while that runs; the cluster's side of the links
(link_cluster.py) tells the same listeners what units linked to other processes said.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from helppoint.gateway.frames import CallAnswer, CallEnd, CommandResult


@dataclass(frozen=True, slots=True)
class LinkEvents:
    """Who hears what units say on their links besides the ingest queue (each optional)."""

    #: Called (in a worker thread) with the unit id and its answer to `configure`.
    config_applied: Callable[[str, CommandResult], None] | None = None
    #: Called (in a worker thread) with the unit id and every command result it sends.
    command_result: Callable[[str, CommandResult], None] | None = None
    #: Called (on the loop) with call frames from units (the call hub, helppoint/calls/hub.py).
    call_frame: Callable[[str, CallAnswer | CallEnd], None] | None = None
    #: Called (on the loop) when a unit's link ends (the call hub).
    unit_gone: Callable[[str], None] | None = None


class OtherUnits(Protocol):
    """Units reachable without a device link: SIP help points registered with this process's
    SIP gateway (helppoint/sip/), which runs on one process at a time
    (`DeviceLinkHub.link_other_units`)."""

    #: The units registered now.
    registered: set[str]

    async def command(
        self, unit_id: str, command: str, args: dict[str, Any], command_id: str
    ) -> bool:
        """Send a command to one of them; True if it did (a SIP unit's light through its
        call). May raise UnitNotConnected."""
