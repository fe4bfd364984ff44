"""Use cases of an incident's cameras and their clips: what is shown, clips started and
finished, evidence hold, playback and export (audited), retention.

Clips are kept like call recordings (docs/calls.md): one file each with its SHA-256, deleted
by the retention sweep after `recording_retention_days` unless a supervisor holds it; every
playback and export is audited before the file is served.
"""

from __future__ import annotations

from helppoint.cameras.repository import CameraRepository
from helppoint.cameras.views import IncidentCamera, IncidentCameras, clip_view
from helppoint.domain.errors import NotFound
from helppoint.services.cameras import linked_cameras
from helppoint.store.uow import UnitOfWork


def incident_cameras(uow: UnitOfWork, incident_id: int) -> IncidentCameras:
    """The cameras shown on an incident and its clips (live states are the caller's)."""
    with uow:
        incident = uow.incidents.get(incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        shown = [
            IncidentCamera(
                camera_id=camera.id,
                name=camera.name,
                own=linked.own,
                linked_by=linked.linked_by,
                preset=linked.preset,
                ptz=camera.ptz,
                latitude=camera.latitude,
                longitude=camera.longitude,
                state="idle",
                detail="",
                codec="",
                forwarded=None,
            )
            for linked, camera in linked_cameras(uow, incident.unit_id)
        ]
        clips = [clip_view(c) for c in CameraRepository(uow.session).clips_of(incident_id)]
        return IncidentCameras(
            incident_id=incident_id, unit_id=incident.unit_id, cameras=shown, clips=clips
        )
