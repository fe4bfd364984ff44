"""The device link as the unit sees it: its states, results and counters.

The wire contract itself (version, path, close codes, refusals) is shared with the server in
helppoint/protocol/device_link.py; :mod:`helppoint.agent.link` speaks it (docs/device-protocol.md).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeGuard
from urllib.parse import urlsplit, urlunsplit

from helppoint import __version__
from helppoint.protocol.device_link import DEVICE_PATH

FIRMWARE = f"helppoint-agent {__version__}"


class LinkState(enum.StrEnum):
    """Where the link is."""

    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RETRYING = "retrying"  # waiting out a backoff delay before the next attempt
    AUTH_FAILED = "auth_failed"
    REPLACED = "replaced"
    STOPPED = "stopped"


class LinkExit(enum.StrEnum):
    """Why :meth:`DeviceLink.run` returned."""

    STOPPED = "stopped"  # stop() was called
    REPLACED = "replaced"  # the server closed us with 4409: another connection is this unit


@dataclass(frozen=True)
class CommandResult:
    """The outcome of a server command, sent back as ``command_result``."""

    ok: bool
    detail: str
    #: For ``configure``: the settings the unit now uses, sent back as ``applied``.
    applied: dict[str, Any] | None = None


CommandHandler = Callable[[str, dict[str, Any]], CommandResult]
AckHook = Callable[[str, int, str], None]
RenumberHook = Callable[[str, dict[int, int]], None]
StateHook = Callable[[str, LinkState], None]


@dataclass
class LinkStats:
    """Counters for tests, benchmarks and the simulator's status."""

    connects: int = 0  # sessions that got a welcome
    failures: int = 0  # attempts that could not connect, or links found dead
    sent: int = 0  # event frames sent, resends included
    resends: int = 0  # event frames sent for an event that had been sent before
    acked: int = 0  # events acknowledged (each event counts once)
    refused: int = 0  # events the server refused for good (dropped, not acked)
    duplicates: int = 0  # of which the server already had (a resend after a lost ack)
    renumbers: int = 0
    heartbeats: int = 0
    commands: int = 0
    auth_failures: int = 0
    max_in_flight: int = 0
    last_close_code: int | None = None
    last_error: str = ""


class LinkBroken(Exception):
    """The connection must end and the unit reconnect (dead link, bad welcome, looping refusals)."""


def device_url(server_url: str) -> str:
    """The device-link URL for a server address: ``http://h:p`` becomes ``ws://h:p/device/v1``."""
    parts = urlsplit(server_url.strip())
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss") or not parts.netloc:
        raise ValueError(
            f"server URL {server_url!r} must look like ws://HOST:PORT or http://HOST:PORT"
        )
    path = parts.path if parts.path not in ("", "/") else DEVICE_PATH
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


def decode_frame(raw: str | bytes) -> dict[str, Any] | None:
    """The JSON object in a text frame, or None for anything else."""
    if isinstance(raw, bytes):
        return None
    try:
        frame = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return frame if isinstance(frame, dict) else None


def is_int(value: object) -> TypeGuard[int]:
    """An int that is not a bool (JSON true is not a seq)."""
    return isinstance(value, int) and not isinstance(value, bool)
