"""Tables of SIP help points (domain/sip.py): each SIP unit's account.

Registered on the shared `metadata` of tables.py and mapped from `start_mappers()`
(store/mapping.py).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, String, Table, false
from sqlalchemy.orm import registry

from helppoint.domain.sip import SipAccount
from helppoint.store.tables import metadata
from helppoint.store.types import UTCDateTime

sip_accounts = Table(
    "sip_accounts",
    metadata,
    Column("unit_id", String(64), ForeignKey("help_points.id"), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("realm", String(64), nullable=False),
    Column("ha1", String(32), nullable=False),
    Column("light_on", String(512), nullable=False, default="none"),
    Column("light_off", String(512), nullable=False, default="none"),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    # The device's HTTP API account for http: light actions, sealed (store/sealed.py).
    Column("http_account", String(512), nullable=True),
    # Call the unit back with SRTP (SDES) offered instead of plain RTP.
    Column("srtp", Boolean, nullable=False, default=False, server_default=false()),
)


def map_sip(mapper_registry: registry) -> None:
    """Map the SIP domain classes (called from start_mappers)."""
    mapper_registry.map_imperatively(SipAccount, sip_accounts)
