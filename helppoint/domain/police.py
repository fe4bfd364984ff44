"""The police side of an escalated incident: when they were called, their acknowledgement and
log/CAD reference, and when officers were on scene. Pure Python: no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from helppoint.domain.errors import InvalidInput, InvalidTransition

_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 /._:-]{0,63}$")


@dataclass(eq=False)
class PoliceResponse:
    """One incident's record of the police response (BS 8591-style escalation by URN)."""

    incident_id: int
    called_at: datetime
    called_by: str
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    cad_reference: str = ""
    on_scene_at: datetime | None = None
    notes: str = ""

    def acknowledge(self, officer: str, reference: str, at: datetime) -> None:
        """The police control room accepts the incident and gives its log/CAD reference."""
        if self.acknowledged_at is not None:
            raise InvalidTransition(
                f"already acknowledged by {self.acknowledged_by} (reference {self.cad_reference})"
            )
        reference = reference.strip()
        if not _REFERENCE.match(reference):
            raise InvalidInput(
                "the police reference is 1-64 letters, digits, spaces and / . _ : - "
                f"(got {reference!r})"
            )
        self.acknowledged_at = at
        self.acknowledged_by = officer
        self.cad_reference = reference

    def arrived(self, at: datetime) -> None:
        """Officers were seen on scene (by the camera or told by the police)."""
        if self.on_scene_at is not None:
            raise InvalidTransition("officers were already recorded on scene")
        if at < self.called_at:
            raise InvalidInput("officers cannot be on scene before the police were called")
        self.on_scene_at = at
