"""Tables for public awareness and scheme reporting (issue #6), on the shared metadata."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Date,
    Float,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
)

from helppoint.domain.routes import SaferRoute
from helppoint.store.tables import BigId, mapper_registry, metadata
from helppoint.store.types import UTCDateTime

safer_routes = Table(
    "safer_routes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("geometry", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
)

# Street-level crimes imported from police.uk CSV files, for the impact evaluation
# (docs/evaluation.md). Kept as a plain table: rows are read in bulk, never as objects.
crime_records = Table(
    "crime_records",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("month", Date, nullable=False),
    Column("crime_id", String(100), nullable=False, default=""),
    Column("falls_within", String(100), nullable=False, default=""),
    Column("longitude", Float, nullable=False),
    Column("latitude", Float, nullable=False),
    Column("location", String(200), nullable=False, default=""),
    Column("lsoa_code", String(16), nullable=False, default=""),
    Column("crime_type", String(100), nullable=False),
    Column("outcome", String(200), nullable=False, default=""),
    Index("ix_crime_records_type_month", "crime_type", "month"),
    Index("ix_crime_records_month_force", "month", "falls_within"),
)

# Answers to "How safe do you feel here?" (docs/survey.md): nothing that identifies a person —
# no address, no cookie, no minute; the unit's zone is kept as it was when answered.
survey_answers = Table(
    "survey_answers",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("unit_id", String(64), nullable=False),
    Column("zone_id", String(64), nullable=False, default=""),
    Column("hour", UTCDateTime, nullable=False),
    Column("feeling", SmallInteger, nullable=False),
    Column("gender", String(32), nullable=True),
    Column("age_band", String(32), nullable=True),
    Index("ix_survey_answers_unit_hour", "unit_id", "hour"),
    Index("ix_survey_answers_hour", "hour"),
)


# Answers counted per key and window, for the survey's flood limits (services/survey_limits.py):
# in the database so that every server process counts together. Rows older than the window
# before are deleted as new ones come.
rate_windows = Table(
    "rate_windows",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("window_start", UTCDateTime, primary_key=True),
    Column("count", Integer, nullable=False, default=0),
)


def map_public() -> None:
    """Map the public-awareness classes (called once from start_mappers)."""
    mapper_registry.map_imperatively(SaferRoute, safer_routes)
