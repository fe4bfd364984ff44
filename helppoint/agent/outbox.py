"""The unit's local outbox: every event is stored here, numbered, until the server acks it.

A press is written to SQLite (WAL, ``synchronous=FULL``) before the link sends it, so a
power cut, a crash or a dead network never loses it: on restart the agent resends whatever is
still unacknowledged, in sequence order. One file may hold the outboxes of many simulated
units; rows are keyed by unit id.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MEMORY = ":memory:"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox_units (
    unit TEXT PRIMARY KEY,
    next_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    unit TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    time TEXT NOT NULL,
    payload TEXT NOT NULL,
    acked INTEGER NOT NULL DEFAULT 0,
    UNIQUE (unit, seq)
);
CREATE INDEX IF NOT EXISTS outbox_unacked ON outbox_events (unit, seq) WHERE acked = 0;
"""


class OutboxError(RuntimeError):
    """The outbox could not be opened or written."""


def utc_timestamp(at: datetime | None = None) -> str:
    """An ISO 8601 UTC time with milliseconds and a ``Z`` suffix, as the protocol wants."""
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class OutboxEvent:
    """One stored event of one unit."""

    id: int
    unit_id: str
    seq: int
    type: str
    time: str
    payload: dict[str, Any]
    acked: bool

    def frame(self) -> dict[str, Any]:
        """The protocol ``event`` frame that carries this event."""
        return {
            "type": "event",
            "seq": self.seq,
            "event": self.type,
            "time": self.time,
            "payload": self.payload,
        }


class Outbox:
    """Durable, per-unit numbered event store; safe to use from several threads.

    Button callbacks run in gpiozero's threads and the link in the asyncio loop, so every
    operation holds one lock around one short transaction.
    """

    def __init__(self, path: str | Path = MEMORY) -> None:
        self.path = str(path)
        try:
            if self.path != MEMORY:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per call.
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            if self.path != MEMORY:
                self._db.execute("PRAGMA journal_mode=WAL")
                # FULL: a committed press survives a power cut, not only a crash.
                self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise OutboxError(f"cannot open the outbox at {self.path}: {exc}") from exc
        # Re-entrant: `together` holds it while the appends inside take it again.
        self._lock = threading.RLock()
        #: Set inside `together`: the transaction is already open.
        self._together = False

    def close(self) -> None:
        """Close the database; the outbox cannot be used afterwards."""
        with self._lock:
            self._db.close()

    def append(
        self,
        unit_id: str,
        event_type: str,
        payload: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> OutboxEvent:
        """Store a new event under the unit's next seq and return it once it is durable."""
        time = utc_timestamp(at)
        body = dict(payload or {})
        encoded = json.dumps(body, separators=(",", ":"), sort_keys=True)
        with self._lock, self._transaction():
            seq = self._next_seq(unit_id)
            cursor = self._db.execute(
                "INSERT INTO outbox_events (unit, seq, type, time, payload) VALUES (?, ?, ?, ?, ?)",
                (unit_id, seq, event_type, time, encoded),
            )
            self._set_next_seq(unit_id, seq + 1)
            row_id = cursor.lastrowid
        assert row_id is not None
        return OutboxEvent(row_id, unit_id, seq, event_type, time, body, False)

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        """Inside it, this thread's writes share one transaction, made durable (one fsync) as
        it ends; other threads' wait until then.

        For a simulated fleet pressing many of its units at once (benchmarks): a real unit
        stores its own press, in parallel with every other unit, so one fsync per press in
        one process measured the simulator. Nothing written inside may be sent before the
        block ends: no await inside it. An error undoes every write of the block.
        """
        with self._lock:
            if self._together:
                yield
                return
            with self._transaction():
                self._together = True
                try:
                    yield
                finally:
                    self._together = False

    def unacked(
        self, unit_id: str, after_seq: int = 0, limit: int | None = None
    ) -> list[OutboxEvent]:
        """Unacknowledged events of a unit with seq above ``after_seq``, in seq order."""
        rows = self._fetch(
            "SELECT id, unit, seq, type, time, payload, acked FROM outbox_events"
            " WHERE unit = ? AND acked = 0 AND seq > ? ORDER BY seq LIMIT ?",
            (unit_id, after_seq, -1 if limit is None else limit),
        )
        return [_event(row) for row in rows]

    def events(self, unit_id: str) -> list[OutboxEvent]:
        """Every stored event of a unit, acknowledged or not, in seq order."""
        rows = self._fetch(
            "SELECT id, unit, seq, type, time, payload, acked FROM outbox_events"
            " WHERE unit = ? ORDER BY seq",
            (unit_id,),
        )
        return [_event(row) for row in rows]

    def unacked_count(self, unit_id: str) -> int:
        """How many events of a unit wait for an ack."""
        [(count,)] = self._fetch(
            "SELECT COUNT(*) FROM outbox_events WHERE unit = ? AND acked = 0", (unit_id,)
        )
        return int(count)

    def unacked_counts(self, unit_ids: Iterable[str] | None = None) -> dict[str, int]:
        """Unacknowledged events per unit (units with none are left out)."""
        rows = self._fetch(
            "SELECT unit, COUNT(*) FROM outbox_events WHERE acked = 0 GROUP BY unit", ()
        )
        counts = {str(unit): int(count) for unit, count in rows}
        if unit_ids is not None:
            wanted = set(unit_ids)
            counts = {unit: n for unit, n in counts.items() if unit in wanted}
        return counts

    def mark_acked(self, unit_id: str, seq: int) -> bool:
        """Record that the server stored the event; True if it was unacknowledged until now."""
        # Not synced to disk at once: a mark lost in a power cut only means one resend, which
        # the server answers "duplicate". Skipping the fsync keeps acks cheap for big fleets.
        with self._lock, self._transaction(durable=False):
            cursor = self._db.execute(
                "UPDATE outbox_events SET acked = 1 WHERE unit = ? AND seq = ? AND acked = 0",
                (unit_id, seq),
            )
        return cursor.rowcount == 1

    def next_seq(self, unit_id: str) -> int:
        """The seq the unit's next new event will get."""
        [(next_seq,)] = self._fetch(
            "SELECT COALESCE(MAX(next_seq), 1) FROM outbox_units WHERE unit = ?", (unit_id,)
        )
        return int(next_seq)

    def adopt_server_last_seq(self, unit_id: str, last_seq: int) -> int:
        """Make sure new events are numbered above what the server already stored.

        A unit whose outbox was lost (a new SD card) would otherwise start again at 1 and
        every event would be refused. Returns the seq the next new event will get.
        """
        current = self.next_seq(unit_id)
        if current > last_seq:
            return current  # the usual case on every reconnect: nothing to write
        # No fsync needed: if this is lost, the next welcome adopts it again, and an event
        # numbered too low in between is refused by the server and renumbered.
        with self._lock, self._transaction(durable=False):
            next_seq = max(self._next_seq(unit_id), last_seq + 1)
            self._set_next_seq(unit_id, next_seq)
        return next_seq

    def renumber_from(self, unit_id: str, first_seq: int) -> dict[int, int]:
        """Give the unacknowledged events new seqs from ``first_seq`` on, keeping their order.

        Used after the server refused a seq (``seq_conflict``/``seq_regressed``); the content
        and time of each event stay as they were. Numbers never go below an acknowledged
        event's. Returns the mapping old seq -> new seq.
        """
        with self._lock, self._transaction():
            rows = self._db.execute(
                "SELECT id, seq FROM outbox_events WHERE unit = ? AND acked = 0 ORDER BY seq",
                (unit_id,),
            ).fetchall()
            (top_acked,) = self._db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM outbox_events WHERE unit = ? AND acked = 1",
                (unit_id,),
            ).fetchone()
            start = max(first_seq, int(top_acked) + 1)
            # Two passes: move every row out of the way first so UNIQUE(unit, seq) never trips.
            for index, (row_id, _) in enumerate(rows):
                self._db.execute(
                    "UPDATE outbox_events SET seq = ? WHERE id = ?", (-1 - index, row_id)
                )
            mapping: dict[int, int] = {}
            for index, (row_id, old_seq) in enumerate(rows):
                mapping[int(old_seq)] = start + index
                self._db.execute(
                    "UPDATE outbox_events SET seq = ? WHERE id = ?", (start + index, row_id)
                )
            self._set_next_seq(unit_id, max(self._next_seq(unit_id), start + len(rows)))
        return mapping

    def prune_acked(self, unit_id: str, keep: int = 1000) -> int:
        """Forget all but the newest ``keep`` acknowledged events; returns how many went."""
        with self._lock, self._transaction(durable=False):
            cursor = self._db.execute(
                "DELETE FROM outbox_events WHERE unit = ? AND acked = 1 AND seq <= ("
                " SELECT COALESCE(MAX(seq), 0) FROM outbox_events WHERE unit = ? AND acked = 1"
                ") - ?",
                (unit_id, unit_id, keep),
            )
        return cursor.rowcount

    def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise OutboxError(f"cannot read the outbox at {self.path}: {exc}") from exc

    def _next_seq(self, unit_id: str) -> int:
        row = self._db.execute(
            "SELECT next_seq FROM outbox_units WHERE unit = ?", (unit_id,)
        ).fetchone()
        return 1 if row is None else int(row[0])

    def _set_next_seq(self, unit_id: str, next_seq: int) -> None:
        self._db.execute(
            "INSERT INTO outbox_units (unit, next_seq) VALUES (?, ?)"
            " ON CONFLICT (unit) DO UPDATE SET next_seq = excluded.next_seq",
            (unit_id, next_seq),
        )

    def _transaction(self, durable: bool = True) -> AbstractContextManager[None]:
        if self._together:
            return contextlib.nullcontext()  # inside `together`: its transaction
        return _Transaction(self._db, self.path, relaxed=not durable and self.path != MEMORY)


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back on error; SQLite errors become OutboxError.

    ``relaxed`` commits with synchronous=NORMAL (no fsync); the next durable commit syncs the
    write-ahead log, and with it everything before, so order on disk is kept.
    """

    def __init__(self, db: sqlite3.Connection, path: str, relaxed: bool = False) -> None:
        self._db = db
        self._path = path
        self._relaxed = relaxed

    def __enter__(self) -> None:
        try:
            if self._relaxed:
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            if self._relaxed:
                self._db.execute("PRAGMA synchronous=FULL")
            raise OutboxError(f"cannot write the outbox at {self._path}: {exc}") from exc

    def __exit__(self, exc_type: type[BaseException] | None, exc: object, tb: object) -> None:
        try:
            self._finish(exc_type, exc)
        finally:
            if self._relaxed:
                self._db.execute("PRAGMA synchronous=FULL")

    def _finish(self, exc_type: type[BaseException] | None, exc: object) -> None:
        if exc_type is not None:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise OutboxError(f"cannot write the outbox at {self._path}: {exc}") from exc
            return
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as err:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise OutboxError(f"cannot commit to the outbox at {self._path}: {err}") from err


def _event(row: tuple[Any, ...]) -> OutboxEvent:
    row_id, unit, seq, event_type, time, payload, acked = row
    return OutboxEvent(
        int(row_id),
        str(unit),
        int(seq),
        str(event_type),
        str(time),
        json.loads(payload),
        bool(acked),
    )
