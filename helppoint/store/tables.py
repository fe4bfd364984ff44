"""Table definitions and the imperative mapping of the domain classes onto them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import registry

from helppoint.domain.audit import EVENT_JOINED
from helppoint.domain.classification import Classification
from helppoint.domain.events import EventType
from helppoint.domain.model import (
    IncidentState,
    Role,
)
from helppoint.domain.triage import Voice
from helppoint.store.types import PriorityType, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BigInteger ids become INTEGER PRIMARY KEY (rowid) on SQLite and BIGSERIAL-like on PostgreSQL.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def _enum(cls: type, name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


zones = Table(
    "zones",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
)

help_points = Table(
    "help_points",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("zone_id", String(64), ForeignKey("zones.id"), nullable=False),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("key_hash", String(128), nullable=False),
    Column("heartbeat_period", Integer, nullable=False, default=30),
    Column("camera_preset", String(64), nullable=False, default="zoom"),
    Column("firmware", String(100), nullable=False, default=""),
    Column("capabilities", JSON, nullable=False, default=list),
    Column("last_seen_at", UTCDateTime, nullable=True),
    Column("active", Boolean, nullable=False, default=True),
    # On test for a maintenance window (domain/triage.py is_test).
    Column("on_test_until", UTCDateTime, nullable=True),
    Column("on_test_reason", Text, nullable=False, default="", server_default=""),
)

device_events = Table(
    "device_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("unit_id", String(64), ForeignKey("help_points.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("type", _enum(EventType, "event_type"), nullable=False),
    Column("unit_time", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("payload", JSON, nullable=False, default=dict),
    Column("digest", String(64), nullable=False),
    Column("incident_id", BigId, ForeignKey("incidents.id"), nullable=True),
    UniqueConstraint("unit_id", "seq", name="uq_device_events_unit_seq"),
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("unit_id", String(64), ForeignKey("help_points.id"), nullable=False),
    Column("priority", PriorityType, nullable=False),
    Column("state", _enum(IncidentState, "incident_state"), nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("last_event_at", UTCDateTime, nullable=False),
    Column("event_count", Integer, nullable=False, default=1),
    Column("acknowledged_at", UTCDateTime, nullable=True),
    Column("acknowledged_by", String(64), nullable=True),
    # Who works on it now (the acknowledger, until a supervisor moves it: domain Incident.move_to).
    Column("held_by", String(64), nullable=True),
    Column("call_started_at", UTCDateTime, nullable=True),
    Column("assessed_at", UTCDateTime, nullable=True),
    Column("classification", _enum(Classification, "classification"), nullable=True),
    Column("escalated_at", UTCDateTime, nullable=True),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("closed_by", String(64), nullable=True),
    Column("outcome", Text, nullable=False, default=""),
    Column("version", Integer, nullable=False),
    # Press-time evidence (services/triage.py), written without moving the version.
    Column("voice", _enum(Voice, "voice"), nullable=True),
    Column("voice_level", Float, nullable=True),
    Column("on_test", Boolean, nullable=False, default=False, server_default=false()),
    # What triage marked and suggested (services/triage_rules.py), without moving the version.
    Column("mark", String(32), nullable=True),
    Column("suggested", _enum(Classification, "suggestion"), nullable=True),
    Column("suggested_by", String(100), nullable=True),
    # The alarm's own times (docs/sla.md): the unit's clock at the press, the writer's store.
    Column("pressed_at", UTCDateTime, nullable=True),
    Column("stored_at", UTCDateTime, nullable=True),
    # acknowledged_at - opened_at in whole microseconds, stored on acknowledgement (domain
    # Incident.answer_microseconds): the reports group a million answers on it (docs/reports.md).
    Column("answer_microseconds", BigInteger, nullable=True),
    Index("ix_incidents_unit_state", "unit_id", "state"),
    Index("ix_incidents_state_priority", "state", "priority", "opened_at"),
    Index("ix_incidents_opened_at", "opened_at"),
    # The reports' grouped counts read only these columns: a range of this index, not the
    # table (store/repositories_reports.py; docs/performance.md).
    Index(
        "ix_incidents_report",
        "opened_at",
        "priority",
        "on_test",
        "classification",
        "answer_microseconds",
        "unit_id",
        "event_count",
    ),
)

incident_notes = Table(
    "incident_notes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("incident_id", BigId, ForeignKey("incidents.id"), nullable=False, index=True),
    Column("author", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
)

operators = Table(
    "operators",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("role", _enum(Role, "role"), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

login_sessions = Table(
    "login_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("operator_id", Integer, ForeignKey("operators.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("address", String(64), nullable=True),
)

audit_entries = Table(
    "audit_entries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("incident_id", BigId, ForeignKey("incidents.id"), nullable=True),
    Column("detail", JSON, nullable=False, default=dict),
    Column("address", String(64), nullable=True),
    # The hash chain (domain/audit.py); the chain head lives in tables_audit.py.
    Column("seq", BigInteger, nullable=False, unique=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
#: An incident's entries (its timeline), but for one per repeat press: in an alarm flood every
#: batch adds those to dozens of incidents, and their index entries, one in each of as many
#: index pages, cost the event writer more than an eighth of its time (docs/performance.md).
#: The timeline shows those presses from the incident's events; the chain still holds them.
NOT_JOINED = audit_entries.c.action != EVENT_JOINED
Index(
    "ix_audit_entries_incident_id",
    audit_entries.c.incident_id,
    sqlite_where=NOT_JOINED,
    postgresql_where=NOT_JOINED,
)

mapper_registry = registry(metadata=metadata)
