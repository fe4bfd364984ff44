"""Maintainer contacts: who hears about maintenance tickets (services/maintainers.py)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.orm import Session

from helppoint.store.tables_selftest import maintainer_contacts


class MaintainerContact(NamedTuple):
    id: int
    name: str
    channel: str
    target: str
    #: None: every zone.
    zone_id: str | None
    active: bool
    created_at: datetime


class MaintainerRepository:
    """Add, remove and list maintainer contacts."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self, name: str, channel: str, target: str, zone_id: str | None, created_at: datetime
    ) -> int:
        """Store an active contact; its id."""
        contact_id: int = self.session.execute(
            insert(maintainer_contacts)
            .values(
                name=name,
                channel=channel,
                target=target,
                zone_id=zone_id,
                active=True,
                created_at=created_at,
            )
            .returning(maintainer_contacts.c.id)
        ).scalar_one()
        return contact_id

    def remove(self, contact_id: int) -> bool:
        """Delete a contact; False if there was none."""
        c = maintainer_contacts.c
        removed = self.session.execute(delete(maintainer_contacts).where(c.id == contact_id))
        return removed.rowcount == 1  # type: ignore[attr-defined,no-any-return]

    def active_for_zone(self, zone_id: str | None) -> list[MaintainerContact]:
        """The active contacts of a zone and those of every zone."""
        c = maintainer_contacts.c
        query = select(maintainer_contacts).where(
            c.active.is_(True), or_(c.zone_id.is_(None), c.zone_id == zone_id)
        )
        return [MaintainerContact(*row) for row in self.session.execute(query).all()]

    def list(self) -> list[MaintainerContact]:
        """Every contact, oldest first."""
        query = select(maintainer_contacts).order_by(maintainer_contacts.c.id)
        return [MaintainerContact(*row) for row in self.session.execute(query).all()]
