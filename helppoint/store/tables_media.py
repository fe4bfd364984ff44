"""Tables for camera, light and unit messages: prompts, stills (issues #3/#4)."""

from __future__ import annotations


def map_media() -> None:
    """Map this module's classes (called once from start_mappers)."""
