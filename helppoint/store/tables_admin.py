"""Columns and tables for administration (issue #24): a retired unit's time of retirement,
and personal API tokens (domain/api_tokens.py)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table
from sqlalchemy.orm import registry

from helppoint.domain.api_tokens import ApiToken
from helppoint.domain.model import Role
from helppoint.store.tables import _enum, help_points, metadata
from helppoint.store.types import UTCDateTime

help_points.append_column(Column("retired_at", UTCDateTime, nullable=True))

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("operator_id", Integer, ForeignKey("operators.id"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("role", _enum(Role, "role"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("hint", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("last_used_at", UTCDateTime, nullable=True),
)


#: Commissioning tests of units (services/commissioning.py): when each was started and by whom;
#: its incident and its steps are derived from what happened at the unit since.
commissioning_runs = Table(
    "commissioning_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("unit_id", String(64), ForeignKey("help_points.id"), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("started_by", String(64), nullable=False),
    Index("ix_commissioning_runs_unit", "unit_id", "started_at"),
)


def map_admin(mapper_registry: registry) -> None:
    """Map the API token class (called from start_mappers)."""
    mapper_registry.map_imperatively(ApiToken, api_tokens)
