"""Use cases of the camera registry: register, change, remove, link to units and zones.

An administrator registers each camera once; its account is sealed before it is stored
(helppoint/store/sealed.py) and never shown again in full. Every change is audited. The live
view, PTZ and clips (helppoint/cameras/) read what they need through :func:`camera_access`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from helppoint.domain.cameras import (
    MAX_DESCRIPTION,
    MAX_NAME,
    Camera,
    CameraAccess,
    CameraLink,
    LinkedCamera,
    cameras_for_unit,
    check_account,
    check_camera_id,
    check_position,
    check_text,
    parse_onvif_address,
    parse_rtsp_url,
    username_hint,
)
from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.model import AuditEntry
from helppoint.services.camera_views import CameraView, camera_view
from helppoint.services.clock import utcnow
from helppoint.store.repositories_cameras import CameraRepository
from helppoint.store.sealed import Sealer
from helppoint.store.uow import UnitOfWork
from helppoint.topics import Topic


@dataclass(frozen=True)
class CameraDetails:
    """What an administrator gives for a camera; None leaves a field unchanged on update.

    ``onvif`` "" removes the ONVIF service (the camera becomes fixed); ``username`` "" removes
    the account.
    """

    name: str | None = None
    rtsp_url: str | None = None
    onvif: str | None = None
    onvif_profile: str | None = None
    username: str | None = None
    password: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    description: str | None = None


def _context(camera_id: str) -> str:
    return f"camera:{camera_id}"


def _audit(uow: UnitOfWork, actor: str, action: str, address: str | None, **detail: Any) -> None:
    uow.audit.add(
        AuditEntry(at=utcnow(), actor=actor, action=action, detail=detail, address=address)
    )


def register_camera(
    uow: UnitOfWork,
    sealer: Sealer,
    camera_id: str,
    details: CameraDetails,
    actor: str,
    address: str | None = None,
) -> CameraView:
    """Add a camera (or bring back one that was removed, with the details given)."""
    camera_id = check_camera_id(camera_id)
    if details.name is None or details.rtsp_url is None:
        raise InvalidInput("a camera needs a name and an RTSP URL")
    with uow:
        cameras = uow.cameras
        existing = cameras.get(camera_id, for_update=True)
        if existing is not None and existing.active:
            raise InvalidInput(
                f"camera {camera_id} is already registered; change it instead "
                f"(helppoint camera update {camera_id} … / PATCH /api/admin/cameras/{camera_id})"
            )
        now = utcnow()
        camera = existing or Camera(id=camera_id, name="", rtsp_url="", added_at=now)
        camera.active = True
        _apply(camera, details, sealer, new=True)
        camera.changed_at = now
        if existing is None:
            cameras.add(camera)
        _audit(uow, actor, "camera.added", address, **_audit_detail(camera))
        uow.publish_after_commit(Topic.CAMERAS, {"camera": camera.id})
        uow.commit()
        return camera_view(camera, [])


def update_camera(
    uow: UnitOfWork,
    sealer: Sealer,
    camera_id: str,
    details: CameraDetails,
    actor: str,
    address: str | None = None,
) -> CameraView:
    """Change a registered camera's details; what is not given stays."""
    with uow:
        cameras = uow.cameras
        camera = _active(cameras, camera_id, for_update=True)
        _apply(camera, details, sealer, new=False)
        links = list(cameras.links_of_camera(camera.id))
        if not camera.ptz and any(link.preset for link in links):
            raise InvalidInput(
                f"camera {camera.id} has PTZ presets linked to units; remove them before "
                "removing its ONVIF service"
            )
        camera.changed_at = utcnow()
        _audit(uow, actor, "camera.changed", address, **_audit_detail(camera))
        uow.publish_after_commit(Topic.CAMERAS, {"camera": camera.id})
        uow.commit()
        return camera_view(camera, links)


def remove_camera(uow: UnitOfWork, camera_id: str, actor: str, address: str | None = None) -> None:
    """Take a camera out of use: its links go, its clips stay (evidence)."""
    with uow:
        cameras = uow.cameras
        camera = _active(cameras, camera_id, for_update=True)
        for link in cameras.links_of_camera(camera.id):
            cameras.remove_link(link)
        camera.active = False
        camera.sealed_credentials = ""
        camera.username_hint = ""
        camera.changed_at = utcnow()
        _audit(uow, actor, "camera.removed", address, camera=camera.id)
        uow.publish_after_commit(Topic.CAMERAS, {"camera": camera.id})
        uow.commit()


def list_cameras(uow: UnitOfWork, include_removed: bool = False) -> list[CameraView]:
    """Every camera (active ones unless told otherwise) with its links."""
    with uow:
        cameras = uow.cameras
        links: dict[str, list[CameraLink]] = {}
        for link in cameras.all_links():
            links.setdefault(link.camera_id, []).append(link)
        return [
            camera_view(camera, links.get(camera.id, []))
            for camera in cameras.list(active_only=not include_removed)
        ]


def get_camera(uow: UnitOfWork, camera_id: str) -> CameraView:
    with uow:
        cameras = uow.cameras
        camera = _active(cameras, camera_id)
        return camera_view(camera, list(cameras.links_of_camera(camera.id)))


def link_camera(
    uow: UnitOfWork,
    camera_id: str,
    *,
    unit_id: str | None = None,
    zone_id: str | None = None,
    preset: str = "",
    own: bool = False,
    actor: str,
    address: str | None = None,
) -> CameraView:
    """Show a camera on the incidents of a unit (turned to ``preset``) or of a zone's units.

    Linking again changes the preset or 'own' of the existing link.
    """
    wanted = CameraLink(camera_id, unit_id=unit_id, zone_id=zone_id, preset=preset, own=own)
    with uow:
        cameras = uow.cameras
        camera = _active(cameras, camera_id, for_update=True)
        if unit_id is not None and uow.units.get(unit_id) is None:
            raise NotFound(f"unit {unit_id!r} does not exist")
        if zone_id is not None and uow.zones.get(zone_id) is None:
            raise NotFound(f"zone {zone_id!r} does not exist")
        if wanted.preset and not camera.ptz:
            raise InvalidInput(
                f"camera {camera.id} has no ONVIF service, so it cannot turn to a preset; "
                "give its ONVIF address first"
            )
        if own and unit_id is not None:
            current = cameras.own_camera_link(unit_id)
            if current is not None and current.camera_id != camera.id:
                raise InvalidInput(
                    f"{unit_id}'s own camera is {current.camera_id}; unlink it first"
                )
        links = list(cameras.links_of_camera(camera.id))
        link = next(
            (
                existing
                for existing in links
                if existing.unit_id == unit_id and existing.zone_id == zone_id
            ),
            None,
        )
        if link is None:
            cameras.add_link(wanted)
            links.append(wanted)
            link = wanted
        else:
            link.preset = wanted.preset
            link.own = wanted.own
        _audit(
            uow,
            actor,
            "camera.linked",
            address,
            camera=camera.id,
            unit=unit_id,
            zone=zone_id,
            preset=link.preset,
            own=link.own,
        )
        uow.publish_after_commit(Topic.CAMERAS, {"camera": camera.id})
        uow.commit()
        return camera_view(camera, links)


def unlink_camera(
    uow: UnitOfWork,
    camera_id: str,
    *,
    unit_id: str | None = None,
    zone_id: str | None = None,
    actor: str,
    address: str | None = None,
) -> CameraView:
    """Stop showing a camera for a unit or a zone."""
    if (unit_id is None) == (zone_id is None):
        raise InvalidInput("give the unit or the zone to unlink the camera from")
    with uow:
        cameras = uow.cameras
        camera = _active(cameras, camera_id, for_update=True)
        links = list(cameras.links_of_camera(camera.id))
        link = next((lk for lk in links if lk.unit_id == unit_id and lk.zone_id == zone_id), None)
        if link is None:
            where = f"unit {unit_id}" if unit_id is not None else f"zone {zone_id}"
            raise NotFound(f"camera {camera.id} is not linked to {where}")
        cameras.remove_link(link)
        links.remove(link)
        _audit(uow, actor, "camera.unlinked", address, camera=camera.id, unit=unit_id, zone=zone_id)
        uow.publish_after_commit(Topic.CAMERAS, {"camera": camera.id})
        uow.commit()
        return camera_view(camera, links)


def linked_cameras(uow: UnitOfWork, unit_id: str) -> list[tuple[LinkedCamera, Camera]]:
    """The active cameras of a unit's incidents, in the order shown (inside ``uow``)."""
    unit = uow.units.get(unit_id)
    zone_id = unit.zone_id if unit is not None else None
    cameras = uow.cameras
    shown = cameras_for_unit(unit_id, zone_id, list(cameras.links_for(unit_id, zone_id)))
    found = cameras.many([c.camera_id for c in shown])
    return [(c, found[c.camera_id]) for c in shown if found[c.camera_id].active]


def camera_access(uow: UnitOfWork, sealer: Sealer, camera_id: str) -> CameraAccess:
    """A camera's addresses and opened account, for the RTSP and ONVIF clients."""
    with uow:
        camera = _active(uow.cameras, camera_id)
        return access_of(camera, sealer)


def access_of(camera: Camera, sealer: Sealer) -> CameraAccess:
    """The access of a loaded camera (SealError if its account cannot be opened)."""
    username = password = ""
    if camera.sealed_credentials:
        account = json.loads(sealer.open(camera.sealed_credentials, _context(camera.id)))
        username, password = str(account["u"]), str(account["p"])
    return CameraAccess(
        camera_id=camera.id,
        name=camera.name,
        rtsp_url=camera.rtsp_url,
        username=username,
        password=password,
        onvif_host=camera.onvif_host,
        onvif_port=camera.onvif_port,
        onvif_profile=camera.onvif_profile,
    )


def _active(cameras: CameraRepository, camera_id: str, for_update: bool = False) -> Camera:
    camera = cameras.get(camera_id, for_update=for_update)
    if camera is None or not camera.active:
        raise NotFound(f"camera {camera_id!r} is not registered")
    return camera


def _apply(camera: Camera, details: CameraDetails, sealer: Sealer, *, new: bool) -> None:
    """Check and set the given details (nothing is set unless all of them are valid)."""
    name = (
        check_text(details.name, "the camera name", MAX_NAME)
        if details.name is not None
        else camera.name
    )
    description = (
        check_text(details.description, "the description", MAX_DESCRIPTION, empty=True)
        if details.description is not None
        else camera.description
    )
    rtsp_url, url_account = camera.rtsp_url, None
    if details.rtsp_url is not None:
        address = parse_rtsp_url(details.rtsp_url)
        rtsp_url = address.url
        if address.username is not None:
            url_account = (address.username, address.password or "")
    onvif_host, onvif_port = camera.onvif_host, camera.onvif_port
    if details.onvif is not None:
        onvif_host, onvif_port = parse_onvif_address(details.onvif) if details.onvif else ("", 0)
    profile = camera.onvif_profile
    if details.onvif_profile is not None:
        profile = (
            check_text(details.onvif_profile, "the ONVIF profile token", 64, empty=True)
            if details.onvif_profile
            else ""
        )
    latitude, longitude = camera.latitude, camera.longitude
    if details.latitude is not None or details.longitude is not None:
        latitude, longitude = details.latitude, details.longitude
        check_position(latitude, longitude)
    sealed, hint = camera.sealed_credentials, camera.username_hint
    if url_account is not None and details.username is not None:
        raise InvalidInput(
            "the RTSP URL carries a user name: give the account either in the URL or with the "
            "user name and password, not both"
        )
    account: tuple[str, str] | None = url_account
    if details.username is not None:
        if details.username == "":
            if details.password:
                raise InvalidInput("a password needs a user name")
            sealed, hint = "", ""
        else:
            account = (details.username, details.password or "")
    elif details.password is not None:
        if not camera.sealed_credentials:
            raise InvalidInput("a password needs a user name")
        current = json.loads(sealer.open(camera.sealed_credentials, _context(camera.id)))
        account = (str(current["u"]), details.password)
    if account is not None:
        username, password = check_account(*account)
        sealed = sealer.seal(json.dumps({"u": username, "p": password}), _context(camera.id))
        hint = username_hint(username)
    if new and not name:
        raise InvalidInput("a camera needs a name")
    camera.name = name
    camera.description = description
    camera.rtsp_url = rtsp_url
    camera.onvif_host, camera.onvif_port, camera.onvif_profile = onvif_host, onvif_port, profile
    camera.latitude, camera.longitude = latitude, longitude
    camera.sealed_credentials, camera.username_hint = sealed, hint


def _audit_detail(camera: Camera) -> dict[str, Any]:
    """What the audit trail keeps of a camera's details (never its account)."""
    return {
        "camera": camera.id,
        "name": camera.name,
        "rtsp_url": camera.rtsp_url,
        "onvif": f"{camera.onvif_host}:{camera.onvif_port}" if camera.onvif_host else None,
        "account": bool(camera.sealed_credentials),
        "latitude": camera.latitude,
        "longitude": camera.longitude,
    }
