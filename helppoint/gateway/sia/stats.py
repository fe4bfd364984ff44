"""The SIA receiver's counters, shared by the receiver and the store of its messages."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ReceiverStats:
    """Counters for tests, benchmarks and the log."""

    frames: int = 0
    acks: int = 0
    naks: int = 0
    duhs: int = 0
    stored: int = 0
    duplicates: int = 0
    #: Abusive messages over their address's rate, not answered.
    flood_drops: int = 0
    #: TCP connections closed at once: their address held too many unproven ones.
    refused_connections: int = 0
