"""SIA DC-09 accounts of third-party alarm equipment (domain/sia.py), and the admin's choice of
handling per event code category (domain/sia_codes.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from helppoint.domain.sia import SiaAccount
from helppoint.store.tables_supervision import sia_accounts, sia_category_handling


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


class HandlingChoice(NamedTuple):
    """An admin's stored choice for one category (names as stored: this version may not know
    them)."""

    category: str
    handling: str
    updated_at: datetime
    updated_by: str


class SiaHandlingRepository:
    """The handling chosen per event code category (categories left at their default have none)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def choices(self) -> list[HandlingChoice]:
        c = sia_category_handling.c
        rows = self.session.execute(
            select(c.category, c.handling, c.updated_at, c.updated_by)
        ).all()
        return [HandlingChoice(*row) for row in rows]

    def set_choice(self, category: str, handling: str, at: datetime, by: str) -> None:
        """Replace the category's choice."""
        table = sia_category_handling
        self.session.execute(delete(table).where(table.c.category == category))
        self.session.execute(
            insert(table).values(category=category, handling=handling, updated_at=at, updated_by=by)
        )
