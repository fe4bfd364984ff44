"""Tables for security hardening: TOTP, login throttling, session idle time (issue #7).

Adds two-factor columns to `operators` and idle-time columns to `login_sessions` (the domain
classes declare them as fields) and the tables of domain/security.py.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Integer, String, Table

from helppoint.domain.model import Role
from helppoint.domain.security import LoginThrottle, PendingSignIn, RecoveryCode, RolePolicy
from helppoint.store.tables import (
    BigId,
    _enum,
    help_points,
    login_sessions,
    mapper_registry,
    metadata,
    operators,
)
from helppoint.store.types import UTCDateTime

#: The operator's TOTP secret (base32): set at enrolment, in use once `two_factor_enabled`.
#: It cannot be hashed: the server must compute the same codes as the authenticator app.
OPERATOR_COLUMNS: list[Column[Any]] = [
    Column("two_factor_secret", String(64), nullable=False, default="", server_default=""),
    Column("two_factor_enabled", Boolean, nullable=False, default=False, server_default="0"),
    # The last TOTP time step accepted, so a code cannot be used twice.
    Column("two_factor_last_step", BigInteger, nullable=False, default=0, server_default="0"),
]
#: When the session was last used, and the idle time after which it ends (0 = no limit).
SESSION_COLUMNS: list[Column[Any]] = [
    Column("last_seen_at", UTCDateTime, nullable=True),
    Column("idle_timeout", Integer, nullable=False, default=0, server_default="0"),
]
#: A rotated unit key that still works until `previous_key_until` (the rotation's overlap).
UNIT_COLUMNS: list[Column[Any]] = [
    Column("previous_key_hash", String(64), nullable=False, default="", server_default=""),
    Column("previous_key_until", UTCDateTime, nullable=True),
]
for _column in UNIT_COLUMNS:
    help_points.append_column(_column)
for _column in OPERATOR_COLUMNS:
    operators.append_column(_column)
for _column in SESSION_COLUMNS:
    login_sessions.append_column(_column)

login_throttles = Table(
    "login_throttles",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("window_started_at", UTCDateTime, nullable=True),
    Column("locked_until", UTCDateTime, nullable=True),
)

role_policies = Table(
    "role_policies",
    metadata,
    Column("role", _enum(Role, "role"), primary_key=True),
    Column("require_two_factor", Boolean, nullable=False, default=False),
)

recovery_codes = Table(
    "recovery_codes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("operator_id", Integer, ForeignKey("operators.id"), nullable=False, index=True),
    Column("code_hash", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
)

pending_sign_ins = Table(
    "pending_sign_ins",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("operator_id", Integer, ForeignKey("operators.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("address", String(64), nullable=True),
    Column("failures", Integer, nullable=False, default=0),
)

#: Keys the server makes once and every process shares, e.g. the one that signs recordings'
#: playback links (services/server_secrets.py); base64 of 32 random bytes.
server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)


def map_security() -> None:
    """Map this module's classes (called once from start_mappers)."""
    # The new operators/login_sessions columns were appended when start_mappers imported this
    # module, before Operator and LoginSession were mapped.
    mapper_registry.map_imperatively(LoginThrottle, login_throttles)
    mapper_registry.map_imperatively(RolePolicy, role_policies)
    mapper_registry.map_imperatively(RecoveryCode, recovery_codes)
    mapper_registry.map_imperatively(PendingSignIn, pending_sign_ins)
