"""Tables for scheduled self-tests, battery, maintainer contacts (issue #5)."""

from __future__ import annotations


def map_selftest() -> None:
    """Map this module's classes (called once from start_mappers)."""
