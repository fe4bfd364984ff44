"""Columns and tables for the scheme reports (issue #23): when a unit was first heard (its
supervised time starts there), the scheme's stored cost inputs and name, and interventions
at units (new signage…) whose before/after the report shows."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Date, Float, ForeignKey, Index, Integer, String, Table, Text

from helppoint.store.tables import help_points, metadata
from helppoint.store.types import UTCDateTime

help_points.append_column(Column("first_seen_at", UTCDateTime, nullable=True))

#: One row (id 1) once an admin or supervisor saves them; the defaults until then.
report_settings = Table(
    "report_settings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("scheme_name", String(200), nullable=False),
    Column("capital", Float, nullable=False),
    Column("capital_months", Integer, nullable=False),
    Column("monitoring_per_month", Float, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
)

interventions = Table(
    "interventions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("unit_id", String(64), ForeignKey("help_points.id"), nullable=False),
    Column("on_date", Date, nullable=False),
    Column("what", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    Index("ix_interventions_unit", "unit_id", "on_date"),
)

#: Each impact evaluation run from the browser; the latest goes into the report's PDF.
evaluation_runs = Table(
    "evaluation_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_at", UTCDateTime, nullable=False),
    Column("run_by", String(64), nullable=False),
    Column("result", JSON, nullable=False),
)
