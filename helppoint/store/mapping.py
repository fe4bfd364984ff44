"""Map the domain classes onto the tables, once per process (store/database.py calls it).

Its own module, not tables.py, because it imports every tables_*.py module and each of them
imports tables.py: kept there, the two would import each other.
"""

from __future__ import annotations

from helppoint.domain.events import DeviceEvent
from helppoint.domain.model import (
    AuditEntry,
    HelpPoint,
    Incident,
    IncidentNote,
    LoginSession,
    Operator,
    Zone,
)
from helppoint.store.tables import (
    audit_entries,
    device_events,
    help_points,
    incident_notes,
    incidents,
    login_sessions,
    mapper_registry,
    operators,
    zones,
)

_mapped = False


def start_mappers() -> None:
    """Map the domain classes onto the tables (once per process)."""
    global _mapped
    if _mapped:
        return
    _mapped = True
    from helppoint.store import (
        tables_admin,  # noqa: F401  (adds help_points.retired_at)
        tables_reports,  # noqa: F401  (adds help_points.first_seen_at, report tables)
        tables_security,  # noqa: F401  (adds operators/login_sessions columns)
    )
    from helppoint.store.tables_supervision import map_supervision  # adds help_points columns

    mapper_registry.map_imperatively(Zone, zones)
    mapper_registry.map_imperatively(HelpPoint, help_points)
    mapper_registry.map_imperatively(DeviceEvent, device_events)
    mapper_registry.map_imperatively(
        Incident,
        incidents,
        properties={"_version": incidents.c.version},
        version_id_col=incidents.c.version,
    )
    mapper_registry.map_imperatively(IncidentNote, incident_notes)
    mapper_registry.map_imperatively(Operator, operators)
    mapper_registry.map_imperatively(LoginSession, login_sessions)
    mapper_registry.map_imperatively(AuditEntry, audit_entries)
    from helppoint.store import tables_audit  # noqa: F401  (registers the chain head table)

    map_supervision(mapper_registry)
    from helppoint.store.tables_plans import map_plans

    map_plans()
    from helppoint.store.tables_public import map_public

    map_public()
    from helppoint.store.tables_calls import map_calls

    map_calls()
    from helppoint.store.tables_media import map_media

    map_media()
    from helppoint.store.tables_selftest import map_selftest

    map_selftest()
    from helppoint.store.tables_security import map_security

    map_security()
    from helppoint.store import tables_cluster  # noqa: F401  (plain tables)
    from helppoint.store.tables_triage import map_triage

    map_triage()
    from helppoint.store.tables_sip import map_sip

    map_sip(mapper_registry)
    from helppoint.store.tables_cameras import map_cameras

    map_cameras()
    from helppoint.store.tables_admin import map_admin

    map_admin(mapper_registry)
