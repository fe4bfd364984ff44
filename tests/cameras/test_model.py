"""The camera registry's rules, without I/O: addresses, accounts, links and what is shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from helppoint.domain.cameras import (
    CameraAccess,
    CameraClip,
    CameraLink,
    ClipState,
    cameras_for_unit,
    check_account,
    check_camera_id,
    check_position,
    check_text,
    parse_onvif_address,
    parse_rtsp_url,
    username_hint,
)
from helppoint.domain.errors import InvalidInput, InvalidTransition


def test_an_rtsp_url_loses_its_account_which_is_kept_apart() -> None:
    address = parse_rtsp_url(" rtsp://admin:p%40ss%3Aword@192.0.2.10:554/Streaming/101?x=1 ")
    assert address.url == "rtsp://192.0.2.10:554/Streaming/101?x=1"
    assert (address.username, address.password) == ("admin", "p@ss:word")
    plain = parse_rtsp_url("RTSPS://[2001:db8::1]/live")
    assert plain == type(plain)("rtsps://[2001:db8::1]/live", None, None)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "needs an RTSP URL"),
        ("http://192.0.2.10/video.mjpg", "not an RTSP URL (http scheme)"),
        ("192.0.2.10:554/stream", "not an RTSP URL"),
        ("rtsp:///stream", "no host"),
        ("rtsp://cam/a b", "printable ASCII"),
        ("rtsp://cam/\x00", "printable ASCII"),
        ("rtsp://cam/\ud800", "printable ASCII"),
        ("rtsp://caméra/", "printable ASCII"),
        ("rtsp://cam:99999/", "cannot be read"),
        ("rtsp://cam:0/", "port must be 1-65535"),
        ("rtsp://cam/#frag", "fragment"),
        ("rtsp://cam/" + "a" * 500, "limited to 500"),
    ],
)
def test_bad_rtsp_urls_are_refused_with_the_reason(url: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says.replace("(", r"\(").replace(")", r"\)")):
        parse_rtsp_url(url)


def test_onvif_addresses() -> None:
    assert parse_onvif_address("192.0.2.10") == ("192.0.2.10", 80)
    assert parse_onvif_address("cam.example:8080") == ("cam.example", 8080)
    assert parse_onvif_address("http://cam.example:8000/onvif/device_service") == (
        "cam.example",
        8000,
    )
    for bad, says in [
        ("https://cam/", "must be http"),
        ("http://u:p@cam/", "not in the address"),
        ("cam:0", "port"),
        ("cam:x", "cannot be read"),
        ("ca m", "printable ASCII"),
    ]:
        with pytest.raises(InvalidInput, match=says):
            parse_onvif_address(bad)


def test_accounts_ids_text_and_positions() -> None:
    assert check_account(" admin ", "pä ss") == ("admin", "pä ss")
    for user, password, says in [
        ("ad:min", "x", "must not contain ':'"),
        ("", "x", "must not be empty"),
        ("admin", "a\nb", "control characters"),
        ("admin", "\udc00", "lone surrogate"),
        ("admin", "x" * 201, "limited to 200"),
    ]:
        with pytest.raises(InvalidInput, match=says):
            check_account(user, password)
    assert check_camera_id(" CAM-01 ") == "CAM-01"
    for bad in ("", "-x", "CAM 1", "CÅM", "x" * 65):
        with pytest.raises(InvalidInput, match="camera id"):
            check_camera_id(bad)
    with pytest.raises(InvalidInput, match="control characters"):
        check_text("a\x1bb", "the name", 10)
    with pytest.raises(InvalidInput, match="lone surrogate"):
        check_text("a\ud800", "the name", 10)
    with pytest.raises(InvalidInput, match="both"):
        check_position(52.0, None)
    with pytest.raises(InvalidInput, match="not on Earth"):
        check_position(91.0, 0.0)
    assert username_hint("administrator") == "ad…"


def test_a_preset_or_own_camera_belongs_to_a_unit_link() -> None:
    with pytest.raises(InvalidInput, match="either a unit or a zone"):
        CameraLink("CAM-01")
    with pytest.raises(InvalidInput, match="either a unit or a zone"):
        CameraLink("CAM-01", unit_id="HP-01", zone_id="town")
    with pytest.raises(InvalidInput, match="belongs to a unit"):
        CameraLink("CAM-01", zone_id="town", preset="1")
    with pytest.raises(InvalidInput, match="belongs to a unit"):
        CameraLink("CAM-01", zone_id="town", own=True)
    with pytest.raises(InvalidInput, match="limited to 64"):
        CameraLink("CAM-01", unit_id="HP-01", preset="p" * 65)


def test_own_camera_first_then_the_units_then_the_zones_each_once() -> None:
    links = [
        CameraLink("Z-2", zone_id="town"),
        CameraLink("U-9", unit_id="HP-01", preset="7"),
        CameraLink("A-1", zone_id="town"),
        CameraLink("OWN", unit_id="HP-01", own=True),
        CameraLink("U-9", zone_id="town"),  # linked both ways: the unit's preset wins
        CameraLink("OTHER", unit_id="HP-02", preset="1"),
        CameraLink("FAR", zone_id="racecourse"),
    ]
    shown = cameras_for_unit("HP-01", "town", links)
    assert [(c.camera_id, c.own, c.preset, c.linked_by) for c in shown] == [
        ("OWN", True, "", "unit"),
        ("U-9", False, "7", "unit"),
        ("A-1", False, "", "zone"),
        ("Z-2", False, "", "zone"),
    ]
    assert cameras_for_unit("HP-03", None, links) == []


def test_a_clip_finishes_once_and_then_has_its_retention() -> None:
    pressed = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)
    clip = CameraClip(
        camera_id="CAM-01",
        incident_id=1,
        unit_id="HP-01",
        path="incident-000001/clip.mp4",
        media_type="video/mp4",
        pressed_at=pressed,
        started_at=pressed - timedelta(seconds=8),
        id=5,
    )
    assert clip.recording and not clip.purgeable(pressed + timedelta(days=400))
    clip.finish(ClipState.RECORDED, pressed + timedelta(seconds=60), timedelta(days=31))
    assert clip.duration == 68.0
    assert clip.retain_until == pressed + timedelta(seconds=60, days=31)
    assert clip.purgeable(pressed + timedelta(days=32))
    with pytest.raises(InvalidTransition, match="clip 5 is already recorded"):
        clip.finish(ClipState.FAILED, pressed, timedelta(days=31))
    clip.hold("sam", "PC 123 request", pressed)
    assert not clip.purgeable(pressed + timedelta(days=32))
    with pytest.raises(InvalidTransition, match="clip 5 is on hold"):
        clip.purged(pressed)


def test_the_stream_url_carries_the_account_quoted_and_repr_hides_it() -> None:
    access = CameraAccess("CAM-01", "Market", "rtsp://cam:554/s", "ad min", "p@ss/:word")
    assert access.stream_url() == "rtsp://ad%20min:p%40ss%2F%3Aword@cam:554/s"
    assert "p@ss" not in repr(access) and "ad min" not in repr(access)
    assert CameraAccess("C", "n", "rtsp://cam/s").stream_url() == "rtsp://cam/s"
