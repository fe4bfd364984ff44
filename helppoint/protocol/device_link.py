"""The device link's wire contract (docs/device-protocol.md), for the agent and the server.

The server's side is gateway/device_link.py and gateway/frames.py; the unit's side is
agent/link.py and agent/delivery.py. A change here is a change of the protocol both speak.
"""

from __future__ import annotations

import enum

#: The version a unit's hello names (`"protocol": 1`); the server refuses any other.
PROTOCOL_VERSION = 1
#: The WebSocket path of the device link.
DEVICE_PATH = "/device/v1"
#: The largest per-unit sequence number (a signed 64-bit integer, as stored).
MAX_SEQ = 2**63 - 1

#: The `status` of the `ack` by which the server refuses an event for good: it will never
#: store it, so the unit drops it from its outbox. An older agent takes it as any ack, and
#: drops it too (docs/device-protocol.md, "Refused events").
ACK_REFUSED = "refused"
#: Why an event was refused: its `event` is not a kind the protocol defines (nothing else is).
REFUSED_UNKNOWN_EVENT = "unknown_event"

#: The prompts a unit can play (`play_message`), by message name, with their words: the
#: server lists and checks them, the agent plays them (docs/camera-light-messages.md).
PROMPTS: dict[str, str] = {
    "connecting": "Connecting you to the control room",
    "help_on_way": "Help is on the way",
    "stay_calm": "Please stay where you are; the control room can see you",
}

#: The commands a server may send a unit (`{"type": "command", "command": ...}`).
COMMANDS = frozenset({"flash_light", "camera_preset", "play_message", "configure", "self_test"})


class CloseCode(enum.IntEnum):
    """How the server closes a device link, and what the unit makes of each."""

    GOING_AWAY = 1001
    #: A binary frame: the protocol is JSON text only.
    BINARY_REFUSED = 1003
    #: A frame over the server's size limit.
    TOO_BIG = 1009
    #: The server could not store an event: the unit reconnects and resends.
    SERVER_ERROR = 1011
    #: A frame that breaks the protocol (a first frame that is not hello, hello twice, ...).
    PROTOCOL_VIOLATION = 4400
    #: Unknown unit, wrong key, revoked or removed unit.
    AUTH_FAILED = 4401
    #: No hello in time after the connection opened.
    HELLO_TIMEOUT = 4408
    #: Another connection authenticated as this unit: this one is superseded.
    REPLACED = 4409


#: Close codes that mean the agent broke the protocol: retrying will not help, a fix will.
FIRMWARE_BUGS = frozenset(
    {CloseCode.BINARY_REFUSED, CloseCode.TOO_BIG, CloseCode.PROTOCOL_VIOLATION}
)
