"""Loading and storing calls and recordings inside a unit of work's session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from helppoint.domain.calls import Call, Recording
from helppoint.store import tables_calls as tc


class CallRepository:
    """Calls and recordings of incidents."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add_call(self, call: Call) -> None:
        self.session.add(call)

    def add_recording(self, recording: Recording) -> None:
        self.session.add(recording)

    def get_call(self, call_id: int) -> Call | None:
        return self.session.get(Call, call_id)

    def calls_of(self, incident_id: int) -> Sequence[Call]:
        """The incident's calls, oldest first."""
        return self.session.scalars(
            select(Call).where(tc.calls.c.incident_id == incident_id).order_by(tc.calls.c.id)
        ).all()

    def open_calls(self) -> Sequence[Call]:
        """Calls not recorded as ended (after a crash, these are ended on start)."""
        return self.session.scalars(select(Call).where(tc.calls.c.ended_at.is_(None))).all()

    def get_recording(self, recording_id: int, for_update: bool = False) -> Recording | None:
        query = select(Recording).where(tc.recordings.c.id == recording_id)
        if for_update:
            query = query.with_for_update()
        return self.session.scalars(query).one_or_none()

    def recordings_of(self, incident_id: int) -> Sequence[Recording]:
        """The incident's recordings, oldest first."""
        return self.session.scalars(
            select(Recording)
            .where(tc.recordings.c.incident_id == incident_id)
            .order_by(tc.recordings.c.id)
        ).all()

    def due_for_purge(self, now: datetime, limit: int = 500) -> Sequence[Recording]:
        """Recordings past retention, not on hold and not yet deleted (one indexed query)."""
        return self.session.scalars(
            select(Recording)
            .where(
                tc.recordings.c.purged_at.is_(None),
                tc.recordings.c.held.is_(False),
                tc.recordings.c.retain_until <= now,
            )
            .order_by(tc.recordings.c.retain_until)
            .limit(limit)
            .with_for_update()
        ).all()

    def kept(self) -> Sequence[Recording]:
        """Every recording whose file is still kept, oldest first."""
        return self.session.scalars(
            select(Recording)
            .where(tc.recordings.c.purged_at.is_(None))
            .order_by(tc.recordings.c.id)
        ).all()
