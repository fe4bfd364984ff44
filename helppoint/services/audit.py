"""Audit trail use cases: verify the hash chain, read and export the trail."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from helppoint.domain.audit import ChainReport, verify_chain
from helppoint.domain.errors import InvalidInput
from helppoint.domain.model import AuditEntry
from helppoint.services.clock import utcnow
from helppoint.services.safe_csv import SafeCsvWriter
from helppoint.services.views import iso
from helppoint.store.uow import UnitOfWork

#: Columns of an exported trail, in order.
EXPORT_FIELDS = (
    "seq",
    "at",
    "actor",
    "action",
    "incident_id",
    "address",
    "detail",
    "prev_hash",
    "hash",
)


def verify(uow: UnitOfWork) -> ChainReport:
    """Check the whole trail against its hash chain; the report names the first bad entry."""
    with uow:
        return verify_chain(uow.audit.in_chain_order(), uow.audit.head())


def entry_record(entry: AuditEntry) -> dict[str, Any]:
    """An entry as exported and shown to auditors, chain fields included."""
    return {
        "seq": entry.seq,
        "at": iso(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "incident_id": entry.incident_id,
        "address": entry.address,
        "detail": entry.detail or {},
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


@dataclass(frozen=True)
class TrailQuery:
    """Filters for reading the trail."""

    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    action: str | None = None
    limit: int | None = 200
    offset: int = 0

    def __post_init__(self) -> None:
        if self.since and self.until and self.since >= self.until:
            raise InvalidInput("'since' must be before 'until'")
        if self.limit is not None and not 1 <= self.limit <= 1000:
            raise InvalidInput("limit must be between 1 and 1000")
        if self.offset < 0:
            raise InvalidInput("offset cannot be negative")


def read_trail(
    uow: UnitOfWork, query: TrailQuery, reader: str, address: str | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Entries newest first with the total; reading the trail is itself recorded."""
    with uow:
        rows, total = _search(uow, query)
        records = [entry_record(e) for e in rows]
        _record_access(uow, reader, "audit.viewed", address, query, len(records))
        uow.commit()
        return records, total


def export_trail(
    uow: UnitOfWork, query: TrailQuery, fmt: str, reader: str, address: str | None = None
) -> str:
    """The filtered trail (oldest first, every matching entry) as CSV or JSON text."""
    if fmt not in ("csv", "json"):
        raise InvalidInput(f"unknown export format {fmt!r}; use csv or json")
    unlimited = TrailQuery(query.since, query.until, query.actor, query.action, None, 0)
    with uow:
        rows, _ = _search(uow, unlimited)
        records = [entry_record(e) for e in reversed(rows)]
        _record_access(uow, reader, "audit.exported", address, query, len(records), fmt=fmt)
        uow.commit()
    if fmt == "json":
        return json.dumps(
            {"exported_at": iso(utcnow()), "entries": records}, indent=1, ensure_ascii=False
        )
    return "".join(_csv_lines(records))


def _csv_lines(records: list[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_FIELDS)
    for record in records:
        cells = record | {
            "detail": json.dumps(record["detail"], sort_keys=True, ensure_ascii=False)
        }
        writer.writerow(cells.get(name, "") for name in EXPORT_FIELDS)
    yield buffer.getvalue()


def _search(uow: UnitOfWork, query: TrailQuery) -> tuple[list[AuditEntry], int]:
    rows, total = uow.audit.search(
        since=query.since,
        until=query.until,
        actor=query.actor,
        action=query.action,
        limit=query.limit,
        offset=query.offset,
    )
    return list(rows), total


def _record_access(
    uow: UnitOfWork,
    reader: str,
    action: str,
    address: str | None,
    query: TrailQuery,
    count: int,
    **extra: Any,
) -> None:
    filters = {
        "since": iso(query.since),
        "until": iso(query.until),
        "actor": query.actor,
        "action": query.action,
    }
    uow.audit.add(
        AuditEntry(
            at=utcnow(),
            actor=reader,
            action=action,
            address=address,
            detail={"filters": {k: v for k, v in filters.items() if v}, "entries": count, **extra},
        )
    )
