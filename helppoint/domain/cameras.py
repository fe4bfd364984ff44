"""Cameras and their links to help points: plain domain objects and their rules (no I/O).

A camera of the council's CCTV estate is registered once (its RTSP stream, its ONVIF service
for PTZ, the account to reach both, where it is) and linked to units or zones. A link to a unit
may carry the PTZ preset that turns the camera to that unit, and may say that the camera is the
unit's own (a SIP intercom's built-in camera, say). On an activation the incident shows the
unit's own camera first, then the cameras linked to the unit, then those of its zone.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import quote, unquote, urlsplit

from helppoint.domain.calls import RetainedEvidence, retain_until
from helppoint.domain.errors import InvalidInput, InvalidTransition

MAX_URL = 500
MAX_NAME = 200
MAX_DESCRIPTION = 2000
MAX_SECRET = 200
#: ONVIF's ReferenceToken is a string of at most 64 characters.
MAX_TOKEN = 64
ONVIF_DEFAULT_PORT = 80
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(eq=False)
class Camera:
    """A camera the control room can view, move (when it has ONVIF PTZ) and record."""

    id: str
    name: str
    #: The stream, without any user name or password (those are sealed apart).
    rtsp_url: str
    #: The ONVIF device service ("" = no ONVIF: a fixed camera, never moved).
    onvif_host: str = ""
    onvif_port: int = 0
    #: The ONVIF media profile whose PTZ to drive ("" = the camera's first profile).
    onvif_profile: str = ""
    #: The camera account (user name and password, for RTSP and ONVIF), sealed at rest
    #: (helppoint/store/sealed.py); "" = the camera needs no account.
    sealed_credentials: str = ""
    #: What may be shown of the user name: its first characters only.
    username_hint: str = ""
    latitude: float | None = None
    longitude: float | None = None
    description: str = ""
    active: bool = True
    added_at: datetime | None = None
    changed_at: datetime | None = None

    @property
    def ptz(self) -> bool:
        """Whether the camera can be moved (it has an ONVIF service)."""
        return bool(self.onvif_host)


@dataclass(eq=False)
class CameraLink:
    """A camera shown for one unit, or for every unit of a zone."""

    camera_id: str
    unit_id: str | None = None
    zone_id: str | None = None
    #: The ONVIF preset token that turns the camera to the unit (unit links only; "" = none).
    preset: str = ""
    #: The unit's own camera (unit links only; at most one per unit).
    own: bool = False
    id: int | None = None

    def __post_init__(self) -> None:
        if (self.unit_id is None) == (self.zone_id is None):
            raise InvalidInput("a camera is linked to either a unit or a zone")
        if self.zone_id is not None and (self.preset or self.own):
            raise InvalidInput(
                "a PTZ preset or 'own camera' belongs to a unit: link the camera to the unit"
            )
        if self.preset:
            self.preset = check_preset(self.preset)


@dataclass(frozen=True)
class LinkedCamera:
    """A camera as shown for one unit's incident: why it is there and where it turns."""

    camera_id: str
    own: bool
    #: The preset to go to on an activation of this unit ("" = do not move it).
    preset: str
    #: "unit" (linked to the unit) or "zone" (linked to the unit's zone).
    linked_by: str


@dataclass(frozen=True)
class LinkedPlaces:
    """The units and zones that active cameras are linked to: a unit outside both has no
    camera to turn or record, so its presses need no look-up of the registry."""

    units: frozenset[str]
    zones: frozenset[str]

    @classmethod
    def of(cls, links: Iterable[CameraLink]) -> LinkedPlaces:
        units: set[str] = set()
        zones: set[str] = set()
        for link in links:
            if link.unit_id is not None:
                units.add(link.unit_id)
            if link.zone_id is not None:
                zones.add(link.zone_id)
        return cls(frozenset(units), frozenset(zones))

    def has_cameras(self, unit_id: str, zone_id: str | None) -> bool:
        """Whether a camera is shown for the unit (its own link, or its zone's)."""
        return unit_id in self.units or (zone_id is not None and zone_id in self.zones)


def cameras_for_unit(
    unit_id: str, zone_id: str | None, links: list[CameraLink]
) -> list[LinkedCamera]:
    """The cameras of a unit's incidents, in the order shown: the unit's own camera, then those
    linked to the unit, then those linked to its zone (each camera once; a camera linked both
    to the unit and to its zone turns to the unit's preset)."""
    by_camera: dict[str, LinkedCamera] = {}
    for link in links:
        if link.unit_id == unit_id:
            by_camera[link.camera_id] = LinkedCamera(link.camera_id, link.own, link.preset, "unit")
    for link in links:
        if zone_id is not None and link.zone_id == zone_id and link.camera_id not in by_camera:
            by_camera[link.camera_id] = LinkedCamera(link.camera_id, False, "", "zone")
    order = {"unit": 1, "zone": 2}
    return sorted(
        by_camera.values(),
        key=lambda c: (0 if c.own else order[c.linked_by], c.camera_id),
    )


class ClipState(enum.StrEnum):
    """Where a clip is in its life."""

    RECORDING = "recording"
    RECORDED = "recorded"
    #: The recording stopped early (the camera's stream ended, the server stopped): the file
    #: holds what arrived until then.
    INTERRUPTED = "interrupted"
    #: Nothing could be recorded (the camera was unreachable); the row says why.
    FAILED = "failed"


@dataclass(eq=False)
class CameraClip(RetainedEvidence):
    """Video from one camera around a press, kept as evidence like a call's recording."""

    noun = "clip"

    camera_id: str
    incident_id: int
    unit_id: str
    #: File name inside the recordings directory ("" when nothing was recorded).
    path: str
    media_type: str
    #: The press the clip is around (its first; later presses extend the clip).
    pressed_at: datetime
    #: The time of the clip's first frame (before the press when there was pre-roll).
    started_at: datetime
    state: str = ClipState.RECORDING.value
    ended_at: datetime | None = None
    duration: float = 0.0
    size_bytes: int = 0
    sha256: str = ""
    #: Set when the clip is finished (a clip being recorded is never purged).
    retain_until: datetime | None = None
    #: What went wrong, in words for the operator ("" when nothing did).
    detail: str = ""
    #: The server process recording it (a clip left "recording" by a process that has gone
    #: is closed as interrupted).
    server: str = ""
    held: bool = False
    held_by: str | None = None
    held_at: datetime | None = None
    hold_reason: str = ""
    purged_at: datetime | None = None
    id: int | None = None

    @property
    def recording(self) -> bool:
        return self.state == ClipState.RECORDING.value

    def finish(
        self,
        state: ClipState,
        ended_at: datetime,
        retention: timedelta,
        *,
        size_bytes: int = 0,
        sha256: str = "",
        detail: str = "",
    ) -> None:
        """Record how the clip ended; its retention starts now."""
        if not self.recording:
            raise InvalidTransition(f"clip {self.id} is already {self.state}")
        if state is ClipState.RECORDING:
            raise InvalidInput("a clip finishes as recorded, interrupted or failed")
        self.state = state.value
        self.ended_at = max(ended_at, self.started_at)
        self.duration = (self.ended_at - self.started_at).total_seconds()
        self.size_bytes = size_bytes
        self.sha256 = sha256
        self.detail = detail
        self.retain_until = retain_until(self.ended_at, retention)


@dataclass(frozen=True)
class RtspAddress:
    """An RTSP URL split into the stream's address and the account written into it."""

    url: str
    username: str | None
    password: str | None


def check_text(value: str, what: str, longest: int, *, empty: bool = False) -> str:
    """Text without control characters, encodable as UTF-8, at most ``longest`` characters."""
    value = value.strip()
    if not value and not empty:
        raise InvalidInput(f"{what} must not be empty")
    if len(value) > longest:
        raise InvalidInput(f"{what} is limited to {longest} characters")
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in value):
        raise InvalidInput(f"{what} must not contain control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} is not valid text (a lone surrogate)") from None
    return value


def check_camera_id(value: str) -> str:
    """A camera id: 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit."""
    value = value.strip()
    if not _ID.fullmatch(value):
        raise InvalidInput(
            f"camera id must be 1-64 ASCII letters, digits, '-', '_' or '.', not {value[:80]!r}"
        )
    return value


def check_preset(value: str) -> str:
    """An ONVIF preset token (at most 64 characters, as ONVIF's ReferenceToken)."""
    return check_text(value, "the PTZ preset token", MAX_TOKEN)


def check_position(latitude: float | None, longitude: float | None) -> None:
    """Both or neither, and on Earth."""
    if (latitude is None) != (longitude is None):
        raise InvalidInput("give both the latitude and the longitude of the camera, or neither")
    if (
        latitude is not None
        and longitude is not None
        and not (-90 <= latitude <= 90 and -180 <= longitude <= 180)
    ):
        raise InvalidInput(f"latitude/longitude {latitude},{longitude} is not on Earth")


def check_account(username: str, password: str) -> tuple[str, str]:
    """The camera account: a user name (no ':', as HTTP Basic forbids) and its password."""
    username = check_text(username, "the camera user name", 64)
    if ":" in username:
        raise InvalidInput("the camera user name must not contain ':'")
    if len(password) > MAX_SECRET:
        raise InvalidInput(f"the camera password is limited to {MAX_SECRET} characters")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in password):
        raise InvalidInput("the camera password must not contain control characters")
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("the camera password is not valid text (a lone surrogate)") from None
    return username, password


def username_hint(username: str) -> str:
    """What is shown of a user name: at most its first two characters, then '…'."""
    return f"{username[:2]}…" if username else ""


def parse_rtsp_url(text: str) -> RtspAddress:
    """An rtsp:// or rtsps:// URL with a host; a user name and password in it are taken out."""
    text = text.strip()
    if not text:
        raise InvalidInput("the camera needs an RTSP URL, e.g. rtsp://192.0.2.10:554/stream1")
    if len(text) > MAX_URL:
        raise InvalidInput(f"the RTSP URL is limited to {MAX_URL} characters")
    if not all(0x21 <= ord(ch) <= 0x7E for ch in text):
        raise InvalidInput(
            "the RTSP URL must be printable ASCII without spaces (percent-encode anything else)"
        )
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"the RTSP URL cannot be read: {exc}") from None
    if parts.scheme.lower() not in ("rtsp", "rtsps"):
        raise InvalidInput(
            f"not an RTSP URL ({parts.scheme or 'no'} scheme): the camera's stream must be "
            "rtsp://host[:port]/path or rtsps://…"
        )
    host = parts.hostname
    if not host:
        raise InvalidInput("the RTSP URL has no host")
    if parts.fragment:
        raise InvalidInput("the RTSP URL must not have a #fragment")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        if port == 0:
            raise InvalidInput("the RTSP URL's port must be 1-65535")
        netloc += f":{port}"
    url = f"{parts.scheme.lower()}://{netloc}{parts.path}"
    if parts.query:
        url += f"?{parts.query}"
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return RtspAddress(url, username or None, password)


def parse_onvif_address(text: str) -> tuple[str, int]:
    """The ONVIF device service: "host", "host:port" or "http://host[:port][/path]"."""
    text = text.strip()
    if len(text) > MAX_URL or not all(0x21 <= ord(ch) <= 0x7E for ch in text):
        raise InvalidInput(
            f"the ONVIF address must be printable ASCII without spaces, at most {MAX_URL} long"
        )
    candidate = text if "://" in text else f"http://{text}"
    try:
        parts = urlsplit(candidate)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"the ONVIF address cannot be read: {exc}") from None
    if parts.scheme.lower() != "http":
        raise InvalidInput(
            f"the ONVIF address must be http://host[:port] ({parts.scheme} is not supported by "
            "the ONVIF client); keep the camera network private"
        )
    if parts.username is not None:
        raise InvalidInput("give the ONVIF account with --user/--password, not in the address")
    if not parts.hostname:
        raise InvalidInput("the ONVIF address has no host")
    if port == 0:
        raise InvalidInput("the ONVIF port must be 1-65535")
    return parts.hostname, port or ONVIF_DEFAULT_PORT


@dataclass(frozen=True)
class CameraAccess:
    """What the server needs to reach one camera, its account opened (kept in memory only)."""

    camera_id: str
    name: str
    rtsp_url: str
    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    onvif_host: str = ""
    onvif_port: int = 0
    onvif_profile: str = ""

    @property
    def ptz(self) -> bool:
        return bool(self.onvif_host)

    def stream_url(self) -> str:
        """The RTSP URL with the account written in, for the RTSP client only (never shown)."""
        if not self.username:
            return self.rtsp_url
        scheme, _, rest = self.rtsp_url.partition("://")
        account = quote(self.username, safe="")
        if self.password:
            account += ":" + quote(self.password, safe="")
        return f"{scheme}://{account}@{rest}"
