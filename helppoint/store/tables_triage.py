"""Tables of triage: the supervisor's suggestion rules and what they suggested (docs/triage.md)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from helppoint.domain.classification import Classification
from helppoint.domain.triage_patterns import SuggestionRule
from helppoint.store.tables import BigId, _enum, mapper_registry, metadata
from helppoint.store.types import UTCDateTime

triage_rules = Table(
    "triage_rules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("mark", String(32), nullable=False),
    Column("suggest", _enum(Classification, "rule_classification"), nullable=True),
    Column("unit_id", String(64), nullable=True),
    Column("zone_id", String(64), nullable=True),
    Column("hour_from", Integer, nullable=True),
    Column("hour_to", Integer, nullable=True),
    Column("voice", String(16), nullable=True),
    Column("min_alarms", Integer, nullable=False),
    Column("within_minutes", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_by", String(64), nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=True),
    Column("notes", Text, nullable=False, default=""),
)

#: One row per alarm a rule (or the built-in chattering check, rule_id null) marked.
triage_suggestions = Table(
    "triage_suggestions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("incident_id", BigId, ForeignKey("incidents.id"), nullable=False, index=True),
    Column("rule", String(100), nullable=False),
    Column("rule_id", Integer, ForeignKey("triage_rules.id"), nullable=True),
    Column("mark", String(32), nullable=False),
    Column("suggested", _enum(Classification, "suggested_classification"), nullable=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    UniqueConstraint("incident_id", "rule", name="uq_triage_suggestions_incident_rule"),
)


def map_triage() -> None:
    """Map the rule class (called once from start_mappers)."""
    mapper_registry.map_imperatively(
        SuggestionRule,
        triage_rules,
        exclude_properties=["created_by", "created_at", "notes"],
    )
