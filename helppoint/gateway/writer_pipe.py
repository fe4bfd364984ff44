"""What the serving process and its ingest writer process say to each other over their pipe.

The serving process sends each `Batch` (batch_commit.py), and None to say it is done. The
writer answers every batch in order with `Written` (the results, and the messages to publish
now that it is committed) or `Failed`; between batches it may send `Owed`, incident updates
it published after their interval (join_updates.py).

Each item is a pickle behind its length, as multiprocessing's Connection frames it: the
writer process reads and writes a Connection, the serving process a socket its event loop
serves (`encode`, `Frames`).
"""

from __future__ import annotations

import pickle
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from helppoint.services.ingest import IngestResult

Messages = list[tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Written:
    """A batch is committed: its results, and the messages to publish before they are acked.

    `started` and `answered`: when the writer began storing the group the batch was in, and
    when it answered (time.monotonic(), the same clock in every process of the machine).
    """

    results: list[IngestResult]
    messages: Messages
    started: float = 0.0
    answered: float = 0.0


@dataclass(frozen=True)
class Failed:
    """A batch was not stored."""

    error: str


@dataclass(frozen=True)
class Owed:
    """Incident updates the writer owed (join_updates.py), published between batches."""

    messages: Messages


def encode(item: object) -> bytes:
    """`item` as multiprocessing's Connection.recv() in the writer process reads it.

    Plain pickle, not multiprocessing's ForkingPickler (a Python-level pickler, a third
    slower): batches hold only plain data.
    """
    data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
    return struct.pack("!i", len(data)) + data


def send(conn: Connection, reply: Written | Failed | Owed) -> None:
    """Send a reply from the writer process (OSError: the serving process is gone)."""
    conn.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))


class Frames:
    """The serving process's reader of the writer's replies, from the bytes as they come."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[Written | Failed | Owed]:
        """Each reply complete with `data`, in order (the rest waits for more)."""
        buffer = self._buffer
        buffer += data
        while len(buffer) >= 4:
            (size,) = struct.unpack_from("!i", buffer)
            if len(buffer) < 4 + size:
                break
            reply = pickle.loads(buffer[4 : 4 + size])
            del buffer[: 4 + size]
            yield reply
