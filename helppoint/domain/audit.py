"""The tamper-evident audit trail: a SHA-256 hash chain over the AuditEntry records.

Each entry carries its position in the chain (`seq`), the hash of the entry before it
(`prev_hash`) and its own `hash`: SHA-256 over a canonical serialisation of its content and
`prev_hash`. Altering an entry breaks its own hash; removing or reordering entries breaks the
link from the next one; removing entries at the end disagrees with the chain head, which
records the last seq and hash. Pure Python: no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from helppoint.domain.canonical_json import canonical_json
from helppoint.domain.model import AuditEntry

#: The `prev_hash` of the first entry of a chain.
GENESIS_HASH = "0" * 64

#: The action of the entry written for every event that joins an open incident (a repeat
#: press). The one kind written per event in an alarm flood, it is left out of the index of
#: entries by incident (store/tables.py): an incident's timeline shows its events instead.
EVENT_JOINED = "incident.event_joined"
#: The audit action of an event that opens an incident.
INCIDENT_OPENED = "incident.opened"

#: How canonical_json writes a string (ensure_ascii=False).
_json_string = encode_basestring


@dataclass(slots=True)
class NewAuditEntry:
    """An entry on its way into the chain, as a plain record.

    Stored exactly as an AuditEntry with the same fields would be (same row, same hash), for
    writers that add one per event: a mapped AuditEntry costs several times more to create
    and to chain, and nothing reads these back before they are stored.
    """

    at: datetime
    actor: str
    action: str
    incident_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    address: str | None = None
    seq: int | None = None
    prev_hash: str = ""
    hash: str = ""


#: What can be appended to the chain.
Chainable = AuditEntry | NewAuditEntry


def canonical_time(at: datetime) -> str:
    """A timestamp as it is hashed: UTC, ISO 8601, always with microseconds."""
    global _last_time
    last_at, last_text = _last_time
    if at is last_at:  # the entries a batch of events writes share one time
        return last_text
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at!r} in the audit trail; times are aware UTC")
    text = at.astimezone(UTC).isoformat(timespec="microseconds")
    _last_time = (at, text)
    return text


_last_time: tuple[datetime | None, str] = (None, "")


def canonical_bytes(entry: Chainable, prev_hash: str) -> bytes:
    """The bytes an entry's hash is computed over: sorted-key compact JSON, UTF-8.

    That is the JSON of {"seq", "at", "actor", "action", "incident_id", "detail", "address",
    "prev_hash"} with sorted keys; for the usual field types it is written out directly, in
    that order, which costs half as much as encoding the document (a test compares the two).
    """
    seq, incident_id, address = entry.seq, entry.incident_id, entry.address
    if (
        type(seq) is not int
        or (incident_id is not None and type(incident_id) is not int)
        or (address is not None and not isinstance(address, str))
        or not isinstance(entry.actor, str)
        or not isinstance(entry.action, str)
        or not isinstance(prev_hash, str)
    ):
        return canonical_document_bytes(entry, prev_hash)
    return "".join(
        (
            '{"action":',
            _json_string(entry.action),
            ',"actor":',
            _json_string(entry.actor),
            ',"address":',
            "null" if address is None else _json_string(address),
            ',"at":"',
            canonical_time(entry.at),
            '","detail":',
            canonical_json(entry.detail or {}, ascii_only=False),
            ',"incident_id":',
            "null" if incident_id is None else int.__repr__(incident_id),
            ',"prev_hash":',
            _json_string(prev_hash),
            ',"seq":',
            int.__repr__(seq),
            "}",
        )
    ).encode("utf-8")


def canonical_document_bytes(entry: Chainable, prev_hash: str) -> bytes:
    """canonical_bytes by encoding the whole document (any field types)."""
    document: dict[str, Any] = {
        "seq": entry.seq,
        "at": canonical_time(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "incident_id": entry.incident_id,
        "detail": entry.detail or {},
        "address": entry.address,
        "prev_hash": prev_hash,
    }
    return canonical_json(document, ascii_only=False).encode("utf-8")


def entry_hash(entry: Chainable, prev_hash: str) -> str:
    """The SHA-256 (hex) of an entry chained onto `prev_hash`."""
    return hashlib.sha256(canonical_bytes(entry, prev_hash)).hexdigest()


@dataclass
class ChainHead:
    """The end of the chain: the last entry's position and hash (0 and GENESIS when empty)."""

    seq: int = 0
    hash: str = GENESIS_HASH

    def append(self, entry: Chainable) -> None:
        """Give the entry the next position and chain it onto this head, which moves on."""
        entry.seq = self.seq + 1
        entry.prev_hash = self.hash
        entry.hash = entry_hash(entry, self.hash)
        self.seq = entry.seq
        self.hash = entry.hash


@dataclass(frozen=True)
class ChainProblem:
    """The first entry at which the chain does not hold, and why."""

    entry_id: int | None
    seq: int | None
    reason: str

    def __str__(self) -> str:
        where = f"entry id {self.entry_id} (seq {self.seq})" if self.entry_id is not None else ""
        return f"{where}: {self.reason}" if where else self.reason


@dataclass(frozen=True)
class ChainReport:
    """The outcome of verifying a chain: how many entries were checked, and the first problem."""

    checked: int
    problem: ChainProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_chain(entries: Iterable[AuditEntry], head: ChainHead) -> ChainReport:
    """Walk the entries in chain order (by seq) and report the first that breaks the chain.

    Detects an altered entry (its hash no longer matches its content), a removed entry (a gap
    in seq and a broken link), reordered entries (seq out of order or a broken link), and
    entries removed from the end (the chain head names a later entry than the last one).
    """
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    for entry in entries:
        checked += 1

        def problem(reason: str, entry: AuditEntry = entry, checked: int = checked) -> ChainReport:
            return ChainReport(checked, ChainProblem(entry.id, entry.seq, reason))

        if entry.seq != expected_seq:
            if entry.seq is not None and entry.seq > expected_seq:
                missing = (
                    f"seq {expected_seq}"
                    if entry.seq == expected_seq + 1
                    else f"seq {expected_seq}..{entry.seq - 1}"
                )
                return problem(f"entries are missing before it ({missing} not found)")
            return problem(f"out of order: expected seq {expected_seq}, found {entry.seq}")
        if entry.prev_hash != prev_hash:
            return problem(
                "does not link to the entry before it (prev_hash differs): "
                "an entry was removed, inserted or reordered"
            )
        if entry.hash != entry_hash(entry, prev_hash):
            return problem("its content was altered (hash does not match)")
        prev_hash = entry.hash
        expected_seq += 1
    if head.seq != expected_seq - 1 or head.hash != prev_hash:
        return ChainReport(
            checked,
            ChainProblem(
                None,
                head.seq,
                f"the chain head names seq {head.seq} but the trail ends at seq "
                f"{expected_seq - 1}: entries were removed from the end or the head was altered",
            ),
        )
    return ChainReport(checked, None)
