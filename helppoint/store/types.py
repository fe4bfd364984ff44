"""Column types shared by the tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, DateTime, Integer, cast, extract, func
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from helppoint.domain.events import Priority


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database (SQLite keeps no zone, so we add it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given; times are stored as aware UTC")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: Where epoch_microseconds counts from.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_microseconds(column: ColumnElement[Any], dialect: str) -> ColumnElement[int]:
    """A stored UTCDateTime as whole microseconds since 1970, exactly (no floating point)."""
    if dialect == "sqlite":
        # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (SQLAlchemy's format): whole seconds from
        # strftime of the text up to the seconds (given the fraction, SQLite rounds it to
        # milliseconds, so .999999 became a second more), the microseconds from the text.
        seconds = cast(func.strftime("%s", func.substr(column, 1, 19)), BigInteger)
        return seconds * 1_000_000 + cast(func.substr(column, 21, 6), BigInteger)
    # EXTRACT gives an exact numeric on PostgreSQL 14 and later.
    return cast(extract("epoch", column) * 1_000_000, BigInteger)


class PriorityType(TypeDecorator[Priority]):
    """An alarm Priority kept as its number, so queues sort by it in SQL."""

    impl = Integer()
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: Dialect) -> int | None:
        return None if value is None else int(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Priority | None:
        return None if value is None else Priority(value)
