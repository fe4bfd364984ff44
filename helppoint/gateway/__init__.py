"""Edges that talk to units and other equipment: the device link (WebSocket)."""
