"""Use cases of an incident's cameras and their clips: what is shown, clips started and
finished, evidence hold, playback and export (audited), retention.

Clips are kept like call recordings (docs/calls.md): one file each with its SHA-256, deleted
by the retention sweep after `recording_retention_days` unless a supervisor holds it; every
playback and export is audited before the file is served.
"""

from __future__ import annotations

from helppoint.cameras.model import CameraAccess
from helppoint.cameras.repository import CameraRepository
from helppoint.cameras.views import IncidentCamera, IncidentCameras, clip_view
from helppoint.domain.errors import NotFound
from helppoint.domain.model import AuditEntry
from helppoint.services.cameras import access_of, linked_cameras
from helppoint.services.clock import utcnow
from helppoint.store.sealed import Sealer
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


def open_view(
    uow: UnitOfWork,
    sealer: Sealer,
    incident_id: int,
    camera_id: str,
    viewer: str,
    address: str | None = None,
) -> CameraAccess:
    """A camera shown on the incident, to view live; the viewing is audited first.

    NotFound unless the camera is linked to the incident's unit or its zone.
    """
    with uow:
        incident = uow.incidents.get(incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        camera = next(
            (cam for _, cam in linked_cameras(uow, incident.unit_id) if cam.id == camera_id),
            None,
        )
        if camera is None:
            raise NotFound(f"camera {camera_id!r} is not shown on {incident.ref}")
        access = access_of(camera, sealer)
        uow.audit.add(
            AuditEntry(
                at=utcnow(),
                actor=viewer,
                action="camera.viewed",
                incident_id=incident_id,
                detail={"camera": camera_id},
                address=address,
            )
        )
        uow.commit()
        return access
