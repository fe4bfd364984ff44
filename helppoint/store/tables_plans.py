"""Tables for trigger plans (issue #4), on the shared metadata."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint

from helppoint.domain.plans import PlanScope, StoredPlan
from helppoint.domain.police import PoliceResponse
from helppoint.store.tables import BigId, _enum, mapper_registry, metadata
from helppoint.store.types import UTCDateTime

trigger_plans = Table(
    "trigger_plans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scope", _enum(PlanScope, "plan_scope"), nullable=False),
    Column("target_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("source", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
    UniqueConstraint("scope", "target_id", name="uq_trigger_plans_scope_target"),
)


def map_plans() -> None:
    """Map the plan and outbox classes (called once from start_mappers)."""
    from helppoint.store import tables_sla  # noqa: F401  (registers sla_alerts)
    from helppoint.store.tables_notifications import map_notifications

    mapper_registry.map_imperatively(StoredPlan, trigger_plans)
    mapper_registry.map_imperatively(PoliceResponse, police_responses)
    map_notifications()


police_responses = Table(
    "police_responses",
    metadata,
    Column("incident_id", BigId, ForeignKey("incidents.id"), primary_key=True),
    Column("called_at", UTCDateTime, nullable=False),
    Column("called_by", String(64), nullable=False),
    Column("acknowledged_at", UTCDateTime, nullable=True),
    Column("acknowledged_by", String(64), nullable=True),
    Column("cad_reference", String(64), nullable=False),
    Column("on_scene_at", UTCDateTime, nullable=True),
    Column("notes", Text, nullable=False),
)
