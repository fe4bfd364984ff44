"""Tables for security hardening: TOTP, login throttling, unit key revocation (issue #7)."""

from __future__ import annotations


def map_security() -> None:
    """Map this module's classes (called once from start_mappers)."""
