"""SIP accounts of help points that are SIP devices (domain/sip.py, services/sip_units.py)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helppoint.domain.sip import SipAccount
from helppoint.store.tables import help_points
from helppoint.store.tables_sip import sip_accounts


class SipAccountRepository:
    """Get, add and find SIP accounts."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, unit_id: str) -> SipAccount | None:
        return self.session.get(SipAccount, unit_id)

    def add(self, account: SipAccount) -> None:
        self.session.add(account)

    def with_username(self, username: str, other_than: str) -> SipAccount | None:
        """Another unit's account with this username (compared without case), if any."""
        c = sip_accounts.c
        return self.session.scalars(
            select(SipAccount).where(
                func.lower(c.username) == username.lower(), c.unit_id != other_than
            )
        ).first()

    def in_service(self) -> Sequence[SipAccount]:
        """Every active account of an active unit."""
        query = (
            select(SipAccount)
            .join(help_points, help_points.c.id == sip_accounts.c.unit_id)
            .where(sip_accounts.c.active.is_(True), help_points.c.active.is_(True))
        )
        return self.session.scalars(query).all()
