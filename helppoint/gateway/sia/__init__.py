"""SIA DC-09 receiver: third-party alarm equipment over IP (docs/sia-dc09.md)."""
