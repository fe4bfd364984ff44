"""Camera stills: the pictures units take on activation, kept per incident as evidence
(services/stills.py checks them and audits every view)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from helppoint.store.tables_media import camera_stills


class StillFacts(NamedTuple):
    """A stored still without its picture."""

    id: int
    incident_id: int
    unit_id: str
    seq: int
    taken_at: datetime
    received_at: datetime
    width: int
    height: int
    size: int
    sha256: str
    held: bool
    held_by: str | None
    held_at: datetime | None
    hold_reason: str
    purged_at: datetime | None


_FACTS = [camera_stills.c[field] for field in StillFacts._fields]


class StillRepository:
    """Add stills, find them, hold, release and purge their pictures."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        incident_id: int,
        unit_id: str,
        seq: int,
        taken_at: datetime,
        received_at: datetime,
        width: int,
        height: int,
        sha256: str,
        data: bytes,
    ) -> int:
        """Store a still; its id."""
        still_id: int = self.session.execute(
            insert(camera_stills)
            .values(
                incident_id=incident_id,
                unit_id=unit_id,
                seq=seq,
                taken_at=taken_at,
                received_at=received_at,
                width=width,
                height=height,
                size=len(data),
                sha256=sha256,
                data=data,
            )
            .returning(camera_stills.c.id)
        ).scalar_one()
        return still_id

    def get(self, still_id: int, for_update: bool = False) -> StillFacts | None:
        """A still's facts (its row locked for the transaction when `for_update`)."""
        query = select(*_FACTS).where(camera_stills.c.id == still_id)
        if for_update:
            query = query.with_for_update()
        row = self.session.execute(query).first()
        return StillFacts(*row) if row is not None else None

    def picture(self, still_id: int) -> tuple[bytes, StillFacts] | None:
        """A still's picture (empty once purged) and facts, or None."""
        row = self.session.execute(
            select(camera_stills.c.data, *_FACTS).where(camera_stills.c.id == still_id)
        ).first()
        return (bytes(row[0]), StillFacts(*row[1:])) if row is not None else None

    def hold(self, still_id: int, by: str, at: datetime, reason: str) -> None:
        self._set(still_id, held=True, held_by=by, held_at=at, hold_reason=reason)

    def release(self, still_id: int) -> None:
        self._set(still_id, held=False, held_by=None, held_at=None, hold_reason="")

    def purge(self, still_id: int, at: datetime) -> None:
        """Delete a still's picture; its row stays, marked purged."""
        self._set(still_id, data=b"", purged_at=at)

    def due_for_purge(self, received_before: datetime, limit: int) -> list[StillFacts]:
        """Stills received at or before `received_before`, not on hold and not yet purged,
        oldest first."""
        c = camera_stills.c
        rows = self.session.execute(
            select(*_FACTS)
            .where(c.purged_at.is_(None), c.held.is_(False), c.received_at <= received_before)
            .order_by(c.id)
            .limit(limit)
        )
        return [StillFacts(*row) for row in rows]

    def for_incident(self, incident_id: int) -> list[StillFacts]:
        """An incident's stills, newest first."""
        c = camera_stills.c
        rows = self.session.execute(
            select(*_FACTS)
            .where(c.incident_id == incident_id)
            .order_by(c.received_at.desc(), c.id.desc())
        )
        return [StillFacts(*row) for row in rows]

    def newest_of(self, incident_ids: Collection[int]) -> list[StillFacts]:
        """The newest still of each of these incidents that has one."""
        c = camera_stills.c
        newest = (
            select(func.max(c.id).label("id"))
            .where(c.incident_id.in_(list(incident_ids)))
            .group_by(c.incident_id)
        ).subquery()
        rows = self.session.execute(select(*_FACTS).where(c.id.in_(select(newest.c.id))))
        return [StillFacts(*row) for row in rows]

    def _set(self, still_id: int, **values: object) -> None:
        self.session.execute(
            update(camera_stills).where(camera_stills.c.id == still_id).values(**values)
        )
