"""Columns and tables for administration (issue #24): a retired unit's time of retirement."""

from __future__ import annotations

from sqlalchemy import Column

from helppoint.store.tables import help_points
from helppoint.store.types import UTCDateTime

help_points.append_column(Column("retired_at", UTCDateTime, nullable=True))
