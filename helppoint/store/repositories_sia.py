"""SIA DC-09 accounts of third-party alarm equipment (domain/sia.py)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from helppoint.domain.sia import SiaAccount
from helppoint.store.tables_supervision import sia_accounts


class SiaAccountRepository:
    """Get, add and list DC-09 accounts."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, account: str) -> SiaAccount | None:
        return self.session.get(SiaAccount, account)

    def add(self, account: SiaAccount) -> None:
        self.session.add(account)

    def list(self) -> Sequence[SiaAccount]:
        """Every account, by account id."""
        return self.session.scalars(select(SiaAccount).order_by(sia_accounts.c.account)).all()
