"""A free port for a server a test starts and that binds it a moment later: helppoint's own
(`helppoint/sim/ports.py`, which says why it is picked below the kernel's ephemeral range)."""

from __future__ import annotations

from helppoint.sim.ports import free_port, port_free

__all__ = ["free_port", "port_free"]
