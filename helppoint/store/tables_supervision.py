"""Tables for supervision of units: status columns, flips, maintenance tickets, remote config.

Registered on the shared `metadata` of tables.py and mapped from `start_mappers()`
(store/mapping.py).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import registry

from helppoint.domain.sia import SiaAccount
from helppoint.domain.supervision import (
    DEFAULT_GRACE,
    MaintenanceTicket,
    TicketState,
    UnitFlip,
)
from helppoint.store.tables import BigId, _enum, help_points, metadata
from helppoint.store.types import UTCDateTime

# Supervision columns of help_points (HelpPoint declares them as fields).
help_points.append_column(Column("heartbeat_grace", Integer, nullable=False, default=DEFAULT_GRACE))
# The status the control room was last told: "up" or "down" (the live status is derived).
help_points.append_column(Column("supervision_status", String(16), nullable=False, default="up"))
# When the unit is due to be reported down, in POSIX seconds: a number, so that recording a
# heartbeat can set it as `now + heartbeat_period + heartbeat_grace` in one portable UPDATE.
help_points.append_column(Column("alert_after", Float, nullable=True))
Index("ix_help_points_supervision", help_points.c.supervision_status, help_points.c.alert_after)

unit_flips = Table(
    "unit_flips",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("unit_id", String(64), ForeignKey("help_points.id"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("old_status", String(16), nullable=False),
    Column("new_status", String(16), nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=True),
    Column("incident_id", BigId, ForeignKey("incidents.id"), nullable=True),
    Index("ix_unit_flips_unit_at", "unit_id", "at"),
)

maintenance_tickets = Table(
    "maintenance_tickets",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("unit_id", String(64), ForeignKey("help_points.id"), nullable=False),
    Column("fault", String(64), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("state", _enum(TicketState, "ticket_state"), nullable=False),
    Column("occurrences", Integer, nullable=False, default=1),
    Column("incident_id", BigId, ForeignKey("incidents.id"), nullable=True),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("assigned_to", String(64), nullable=True),
    Column("fixed_at", UTCDateTime, nullable=True),
    Column("fixed_by", String(64), nullable=True),
    Column("verified_at", UTCDateTime, nullable=True),
    Column("verified_by", String(64), nullable=True),
    Index("ix_maintenance_tickets_state", "state", "opened_at"),
    Index("ix_maintenance_tickets_unit_fault", "unit_id", "fault", "state"),
)

unit_config_changes = Table(
    "unit_config_changes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("unit_id", String(64), ForeignKey("help_points.id"), nullable=False),
    Column("command_id", String(64), nullable=False, unique=True),
    Column("requested", JSON, nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("ok", Boolean, nullable=True),
    Column("applied", JSON, nullable=True),
    Column("detail", Text, nullable=False, default=""),
    Column("confirmed_at", UTCDateTime, nullable=True),
    Index("ix_unit_config_changes_unit", "unit_id", "requested_at"),
)


sia_accounts = Table(
    "sia_accounts",
    metadata,
    Column("account", String(16), primary_key=True),
    Column("unit_id", String(64), ForeignKey("help_points.id"), nullable=False),
    Column("zone_units", JSON, nullable=False, default=dict),
    Column("key_hex", String(64), nullable=True),
    Column("tolerance_past", Integer, nullable=False, default=40),
    Column("tolerance_future", Integer, nullable=False, default=20),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
)


#: How the DC-09 receiver handles each category of event code, where an admin changed it from
#: the default (domain/sia_codes.py).
sia_category_handling = Table(
    "sia_category_handling",
    metadata,
    Column("category", String(32), primary_key=True),
    Column("handling", String(16), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
)


def map_supervision(mapper_registry: registry) -> None:
    """Map the supervision domain classes (called from start_mappers)."""
    mapper_registry.map_imperatively(UnitFlip, unit_flips)
    mapper_registry.map_imperatively(MaintenanceTicket, maintenance_tickets)
    mapper_registry.map_imperatively(SiaAccount, sia_accounts)
