"""Counts per key in fixed time windows, shared by every server process (table rate_windows)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from helppoint.store.tables_public import rate_windows


class RateWindowRepository:
    def __init__(self, session: Session):
        self.session = session

    def take(self, limits: Sequence[tuple[str, int]], window_start: datetime) -> str | None:
        """Counts one for every key in this window unless one of them has reached its limit;
        the first such key (counting nothing), else None. Inside the caller's transaction:
        the rows are locked for it, so processes counting the same key wait for each other."""
        insert = (
            pg_insert if self.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        )
        keys = [key for key, _ in limits]
        for key in keys:
            self.session.execute(
                insert(rate_windows)
                .values(key=key, window_start=window_start, count=0)
                .on_conflict_do_nothing()
            )
        counts = dict(
            self.session.execute(
                select(rate_windows.c.key, rate_windows.c.count)
                .where(rate_windows.c.key.in_(keys), rate_windows.c.window_start == window_start)
                .with_for_update()
            ).all()
        )
        for key, limit in limits:
            if counts.get(key, 0) >= limit:
                return key
        self.session.execute(
            update(rate_windows)
            .where(rate_windows.c.key.in_(keys), rate_windows.c.window_start == window_start)
            .values(count=rate_windows.c.count + 1)
        )
        return None

    def forget_before(self, window_start: datetime) -> None:
        """Deletes the counts of windows that started before `window_start`."""
        self.session.execute(delete(rate_windows).where(rate_windows.c.window_start < window_start))
