"""The demo's council camera: the RTSP test source, registered and linked to a demo unit.

`helppoint demo` starts it when Debian's GStreamer packages are there (helppoint/cameras/
rtsp_source.py) and says why not otherwise; the demo runs either way.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from helppoint.cameras.rtsp_source import PACKAGES, RtspTestSource, TestSourceUnavailable
from helppoint.domain.errors import DomainError
from helppoint.services.cameras import (
    CameraDetails,
    get_camera,
    link_camera,
    register_camera,
    update_camera,
)
from helppoint.store.sealed import Sealer
from helppoint.store.uow import UnitOfWork

CAMERA_ID = "COUNCIL-01"
#: The demo unit it watches (Market Square, in the town centre) and its place.
UNIT_ID = "HP-05"
NAME = "Council camera · Market Square"
POSITION = (52.23718, -0.89474)


def start_council_camera(
    uow_factory: Callable[[], UnitOfWork], sealer: Sealer
) -> tuple[RtspTestSource | None, str]:
    """Start the council camera and register it; the source (None if it cannot run) and a
    line for the demo's banner."""
    password = secrets.token_urlsafe(12)
    source = RtspTestSource(
        user="council", password=password, width=640, height=360, kbps=700, profile="main"
    )
    try:
        source.start()
    except TestSourceUnavailable as exc:
        return None, (
            f"Council camera: not started ({str(exc).split(';')[0]}). It needs the Debian "
            f"packages {PACKAGES}; the demo runs without it."
        )
    details = CameraDetails(
        name=NAME,
        rtsp_url=source.url,
        username="council",
        password=password,
        latitude=POSITION[0],
        longitude=POSITION[1],
        description="GStreamer's RTSP test source, started by the demo",
    )
    try:
        try:
            get_camera(uow_factory(), CAMERA_ID)
        except DomainError:
            register_camera(uow_factory(), sealer, CAMERA_ID, details, actor="demo")
        else:
            # A kept demo database: the source listens on a new port this time.
            update_camera(uow_factory(), sealer, CAMERA_ID, details, actor="demo")
        link_camera(uow_factory(), CAMERA_ID, unit_id=UNIT_ID, actor="demo")
    except DomainError as exc:
        source.stop()
        return None, f"Council camera: not registered ({exc})"
    return source, (
        f"Council camera: {CAMERA_ID} ({source.url}, H.264) is linked to {UNIT_ID}; press "
        f"{UNIT_ID} to see it live on the incident and get a clip of the press."
    )
