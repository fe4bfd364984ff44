"""Tables for calls and evidence recordings (issue #3)."""

from __future__ import annotations


def map_calls() -> None:
    """Map this module's classes (called once from start_mappers)."""
