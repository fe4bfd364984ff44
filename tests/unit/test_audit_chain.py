"""The audit hash chain in pure Python: appending, and every way of breaking it."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime, timedelta

from helppoint.domain.audit import (
    GENESIS_HASH,
    ChainHead,
    NewAuditEntry,
    entry_hash,
    verify_chain,
)
from helppoint.domain.model import AuditEntry

T0 = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)


def chain(n: int = 5) -> tuple[list[AuditEntry], ChainHead]:
    head = ChainHead()
    entries = []
    for i in range(n):
        entry = AuditEntry(
            at=T0 + timedelta(seconds=i),
            actor="alice",
            action="incident.note_added",
            incident_id=7,
            detail={"note_id": i, "text": "café"},
            address="10.0.0.1",
            id=100 + i,
        )
        head.append(entry)
        entries.append(entry)
    return entries, head


def test_entries_link_onto_each_other_from_genesis() -> None:
    entries, head = chain()
    assert entries[0].prev_hash == GENESIS_HASH
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    for before, after in itertools.pairwise(entries):
        assert after.prev_hash == before.hash
    assert (head.seq, head.hash) == (5, entries[-1].hash)
    assert verify_chain(entries, head).ok


def test_hash_does_not_depend_on_key_order_or_timezone() -> None:
    a = AuditEntry(at=T0, actor="x", action="y", detail={"a": 1, "b": 2}, seq=1)
    b = AuditEntry(
        at=T0.astimezone(datetime.now().astimezone().tzinfo),
        actor="x",
        action="y",
        detail={"b": 2, "a": 1},
        seq=1,
    )
    assert entry_hash(a, GENESIS_HASH) == entry_hash(b, GENESIS_HASH)


def test_hash_of_a_known_entry_is_unchanged() -> None:
    # Trails already stored must keep verifying: the canonical form may never drift.
    entry = AuditEntry(
        at=T0,
        actor="alice",
        action="incident.note_added",
        incident_id=7,
        detail={"text": "café", "note_id": 1},
        address="10.0.0.1",
        seq=1,
    )
    assert (
        entry_hash(entry, GENESIS_HASH)
        == "b4d17770e678ff8a352db2f397c5d99842a3569f834b970e3cd396f4373ae99e"
    )


def test_plain_new_entries_chain_exactly_as_audit_entries() -> None:
    entries, head = chain()
    plain_head = ChainHead()
    for entry in entries:
        plain = NewAuditEntry(
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            incident_id=entry.incident_id,
            detail=entry.detail,
            address=entry.address,
        )
        plain_head.append(plain)
        assert (plain.seq, plain.prev_hash, plain.hash) == (entry.seq, entry.prev_hash, entry.hash)
    assert plain_head == head


def test_altered_entry_is_named() -> None:
    entries, head = chain()
    entries[2].detail = {"note_id": 2, "text": "changed"}
    report = verify_chain(entries, head)
    assert report.problem is not None
    assert (report.problem.entry_id, report.problem.seq) == (102, 3)
    assert "altered" in report.problem.reason


def test_removed_entry_names_the_one_after_the_gap() -> None:
    entries, head = chain()
    del entries[1]
    report = verify_chain(entries, head)
    assert report.problem is not None
    assert report.problem.entry_id == 102
    assert "missing" in report.problem.reason


def test_reordered_entries_are_named() -> None:
    entries, head = chain()
    # Swap the positions of entries 2 and 3 (as an UPDATE of their seq would).
    entries[1].seq, entries[2].seq = 3, 2
    entries[1], entries[2] = entries[2], entries[1]
    report = verify_chain(entries, head)
    assert report.problem is not None
    assert report.problem.entry_id == 102
    assert "link" in report.problem.reason


def test_removed_tail_disagrees_with_the_head() -> None:
    entries, head = chain()
    report = verify_chain(entries[:-1], head)
    assert report.problem is not None and report.problem.entry_id is None
    assert "removed from the end" in report.problem.reason


def test_rehashing_an_altered_entry_still_breaks_the_next_link() -> None:
    entries, head = chain()
    forged = copy.copy(entries[1])
    forged.actor = "mallory"
    forged.hash = entry_hash(forged, forged.prev_hash)
    entries[1] = forged
    report = verify_chain(entries, head)
    assert report.problem is not None and report.problem.entry_id == 102


def test_empty_trail_is_intact() -> None:
    assert verify_chain([], ChainHead()).ok
