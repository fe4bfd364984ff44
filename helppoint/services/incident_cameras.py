"""Use cases of an incident's cameras and their clips: what is shown, clips started and
finished, evidence hold, playback and export (audited), retention.

Clips are kept like call recordings (docs/calls.md): one file each with its SHA-256, deleted
by the retention sweep after `recording_retention_days` unless a supervisor holds it; every
playback and export is audited before the file is served.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from helppoint.domain.cameras import CameraAccess, LinkedCamera, LinkedPlaces
from helppoint.domain.errors import InvalidTransition, NotFound
from helppoint.domain.model import AuditEntry
from helppoint.services.camera_views import IncidentCamera, IncidentCameras, clip_view
from helppoint.services.cameras import access_of, linked_cameras
from helppoint.services.clock import utcnow
from helppoint.services.incidents import record_change
from helppoint.store.sealed import Sealer, SealError
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
        clips = [clip_view(c) for c in uow.cameras.clips_of(incident_id)]
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


@dataclass(frozen=True)
class PressedCamera:
    """A camera of a pressed unit: where to turn it, and how to reach it (or why not)."""

    linked: LinkedCamera
    access: CameraAccess | None
    problem: str = ""


def press_cameras(uow: UnitOfWork, sealer: Sealer, unit_id: str) -> list[PressedCamera]:
    """The cameras to turn and record when ``unit_id`` is pressed."""
    pressed = []
    with uow.reading():
        for linked, camera in linked_cameras(uow, unit_id):
            try:
                pressed.append(PressedCamera(linked, access_of(camera, sealer)))
            except SealError as exc:
                pressed.append(PressedCamera(linked, None, str(exc)))
    return pressed


def record_presets(uow: UnitOfWork, incident_id: int, outcomes: list[tuple[str, str, str]]) -> None:
    """Put the turns to presets on the incident's record: (camera, preset, problem or "")."""
    with uow:
        incident = uow.incidents.get(incident_id)
        if incident is None:
            return
        for camera_id, preset, problem in outcomes:
            if problem:
                detail = {"camera": camera_id, "preset": preset, "reason": problem}
                record_change(uow, incident, "system", "camera.preset_failed", None, **detail)
            else:
                detail = {"camera": camera_id, "preset": preset}
                record_change(uow, incident, "system", "camera.turned_to_preset", None, **detail)
        uow.commit()


def open_ptz(
    uow: UnitOfWork, sealer: Sealer, incident_id: int, camera_id: str
) -> tuple[CameraAccess, str]:
    """A PTZ camera shown on the incident, to move, and the unit's preset token."""
    with uow:
        incident = uow.incidents.get(incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        shown = next(
            (
                (linked, cam)
                for linked, cam in linked_cameras(uow, incident.unit_id)
                if cam.id == camera_id
            ),
            None,
        )
        if shown is None:
            raise NotFound(f"camera {camera_id!r} is not shown on {incident.ref}")
        linked, camera = shown
        if not camera.ptz:
            raise InvalidTransition(f"camera {camera_id} is a fixed camera: it cannot be moved")
        return access_of(camera, sealer), linked.preset


def record_move(
    uow: UnitOfWork,
    incident_id: int,
    operator: str,
    camera_id: str,
    problem: str,
    address: str | None = None,
    **detail: Any,
) -> None:
    """Put an operator's move of a camera (and whether the camera did it) on the record."""
    with uow:
        incident = uow.incidents.get(incident_id)
        if incident is None:
            return
        action = "camera.move_failed" if problem else "camera.moved"
        if problem:
            detail["reason"] = problem
        record_change(uow, incident, operator, action, address, camera=camera_id, **detail)
        uow.commit()


def linked_camera_accesses(uow: UnitOfWork, sealer: Sealer) -> list[CameraAccess]:
    """Every active camera linked to a unit or a zone, with its access (those whose account
    cannot be opened are left out: they are reported when used)."""
    accesses = []
    with uow:
        cameras = uow.cameras
        linked_ids = sorted({link.camera_id for link in cameras.all_links()})
        for camera in cameras.many(linked_ids).values():
            if not camera.active:
                continue
            try:
                accesses.append(access_of(camera, sealer))
            except SealError:
                continue
    return accesses


def linked_places(uow: UnitOfWork) -> LinkedPlaces:
    """The units and zones that active cameras are linked to (one read of the links)."""
    with uow.reading():
        cameras = uow.cameras
        links = cameras.all_links()
        found = cameras.many(sorted({link.camera_id for link in links}))
        return LinkedPlaces.of(
            link for link in links if link.camera_id in found and found[link.camera_id].active
        )
