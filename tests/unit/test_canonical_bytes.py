"""The audit hash's canonical bytes: the direct writing equals encoding the whole document."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from helppoint.domain.audit import (
    NewAuditEntry,
    canonical_bytes,
    canonical_document_bytes,
    canonical_time,
    entry_hash,
)
from helppoint.domain.model import AuditEntry

T0 = datetime(2026, 11, 25, 22, 0, 0, 123456, tzinfo=UTC)
CEST = timezone(timedelta(hours=2))

ENTRIES: list[Any] = [
    NewAuditEntry(at=T0, actor="unit:HP-01", action="incident.event_joined", seq=1),
    NewAuditEntry(
        at=T0.astimezone(CEST),
        actor='unit:"quoted"\\back\nline\u2028é✓\x00',
        action="incident.opened",
        incident_id=12345678901234,
        detail={"type": "activation", "seq": 7, "nested": {"b": [1, 2.5, None, True], "a": "ü"}},
        address="10.0.0.1",
        seq=99,
    ),
    AuditEntry(at=T0, actor="alice", action="x", incident_id=3, detail={}, address="::1", seq=7),
    # Unusual field types take the encoder's path, with the same result.
    AuditEntry(at=T0, actor="alice", action="x", incident_id=True, seq=8),  # type: ignore[arg-type]
    AuditEntry(at=T0, actor="alice", action="x", seq=None),
]


@pytest.mark.parametrize("entry", ENTRIES)
def test_direct_canonical_bytes_equal_the_encoded_document(entry: Any) -> None:
    prev = "ab" * 32
    assert canonical_bytes(entry, prev) == canonical_document_bytes(entry, prev)


def test_a_known_entry_keeps_its_hash() -> None:
    entry = NewAuditEntry(
        at=T0, actor="unit:HP-01", action="incident.opened", incident_id=1, detail={"seq": 1}
    )
    entry.seq = 1
    assert canonical_bytes(entry, "0" * 64) == (
        b'{"action":"incident.opened","actor":"unit:HP-01","address":null,'
        b'"at":"2026-11-25T22:00:00.123456+00:00","detail":{"seq":1},"incident_id":1,'
        b'"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000",'
        b'"seq":1}'
    )
    assert entry_hash(entry, "0" * 64) == entry_hash(AuditEntry(**_fields(entry)), "0" * 64)


def test_canonical_time_of_each_time_not_of_the_last_one() -> None:
    later = T0 + timedelta(microseconds=1)
    assert canonical_time(T0) == "2026-11-25T22:00:00.123456+00:00"
    assert canonical_time(T0) == "2026-11-25T22:00:00.123456+00:00"  # again, the same object
    assert canonical_time(later) == "2026-11-25T22:00:00.123457+00:00"
    assert canonical_time(T0.astimezone(CEST)) == "2026-11-25T22:00:00.123456+00:00"
    with pytest.raises(ValueError, match="naive"):
        canonical_time(datetime(2026, 11, 25, 22, 0))


def _fields(entry: NewAuditEntry) -> dict[str, Any]:
    return {
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action,
        "incident_id": entry.incident_id,
        "detail": entry.detail,
        "address": entry.address,
        "seq": entry.seq,
    }
