"""Registering, changing, linking and removing cameras, on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import text

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.services.cameras import (
    CameraDetails,
    camera_access,
    get_camera,
    link_camera,
    linked_cameras,
    list_cameras,
    register_camera,
    remove_camera,
    unlink_camera,
    update_camera,
)
from helppoint.services.seed import seed_demo
from helppoint.store.sealed import Sealer
from tests.conftest import Database

PASSWORD = "s3cret-Pässwort"
PTZ = CameraDetails(
    name="Market Square PTZ",
    rtsp_url="rtsp://192.0.2.10:554/stream1",
    onvif="192.0.2.10:8080",
    username="operator1",
    password=PASSWORD,
    latitude=52.2372,
    longitude=-0.8959,
)


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(secrets.token_bytes(32))


def raw_rows(database: Database) -> str:
    """Everything stored about cameras and in the audit trail, as text."""
    with database.engine.connect() as conn:
        rows = [
            *conn.execute(text("SELECT * FROM cameras")).all(),
            *conn.execute(text("SELECT * FROM audit_entries")).all(),
        ]
    return repr(rows)


def test_a_camera_is_registered_linked_and_shown_without_its_password(
    database: Database, sealer: Sealer
) -> None:
    seed_demo(database.uow())
    view = register_camera(database.uow(), sealer, "CAM-01", PTZ, "ada")
    assert view.rtsp_url == "rtsp://192.0.2.10:554/stream1"
    assert (view.onvif, view.ptz, view.username_hint, view.password_set) == (
        "192.0.2.10:8080",
        True,
        "op…",
        True,
    )
    assert PASSWORD not in view.model_dump_json() and "operator1" not in view.model_dump_json()
    link_camera(database.uow(), "CAM-01", unit_id="HP-01", preset="3", actor="ada")
    link_camera(database.uow(), "CAM-01", zone_id="town-centre", actor="ada")
    shown = get_camera(database.uow(), "CAM-01")
    assert [(lk.unit_id, lk.zone_id, lk.preset) for lk in shown.links] == [
        ("HP-01", None, "3"),
        (None, "town-centre", ""),
    ]
    # Linking again changes the preset.
    link_camera(database.uow(), "CAM-01", unit_id="HP-01", preset="4", actor="ada")
    assert get_camera(database.uow(), "CAM-01").links[0].preset == "4"
    access = camera_access(database.uow(), sealer, "CAM-01")
    assert (access.username, access.password) == ("operator1", PASSWORD)
    assert access.stream_url().startswith("rtsp://operator1:s3cret-P%C3%A4sswort@192.0.2.10")
    stored = raw_rows(database)
    assert PASSWORD not in stored and "operator1" not in stored
    assert "camera.added" in stored and "camera.linked" in stored


def test_an_account_in_the_url_is_sealed_and_changes_keep_what_is_not_given(
    database: Database, sealer: Sealer
) -> None:
    seed_demo(database.uow())
    register_camera(
        database.uow(),
        sealer,
        "CAM-02",
        CameraDetails(name="Bridge", rtsp_url="rtsp://viewer:pw%2F1@cam2.example/live"),
        "ada",
    )
    access = camera_access(database.uow(), sealer, "CAM-02")
    assert (access.rtsp_url, access.username, access.password) == (
        "rtsp://cam2.example/live",
        "viewer",
        "pw/1",
    )
    update_camera(database.uow(), sealer, "CAM-02", CameraDetails(password="new"), "ada")
    access = camera_access(database.uow(), sealer, "CAM-02")
    assert (access.username, access.password, access.name) == ("viewer", "new", "Bridge")
    update_camera(database.uow(), sealer, "CAM-02", CameraDetails(username=""), "ada")
    assert camera_access(database.uow(), sealer, "CAM-02").username == ""
    assert not get_camera(database.uow(), "CAM-02").password_set


def test_refusals_say_why_and_change_nothing(database: Database, sealer: Sealer) -> None:
    seed_demo(database.uow())
    fixed = CameraDetails(name="Fixed", rtsp_url="rtsp://cam3/live")
    register_camera(database.uow(), sealer, "CAM-03", fixed, "ada")
    before = list_cameras(database.uow())
    cases = [
        (
            lambda: register_camera(database.uow(), sealer, "CAM-03", fixed, "ada"),
            InvalidInput,
            "already registered",
        ),
        (
            lambda: register_camera(
                database.uow(), sealer, "CAM-04", CameraDetails(name="x", rtsp_url="http://x/"), "a"
            ),
            InvalidInput,
            "not an RTSP URL",
        ),
        (
            lambda: register_camera(
                database.uow(),
                sealer,
                "CAM-04",
                CameraDetails(name="x", rtsp_url="rtsp://u:p@x/", username="v"),
                "a",
            ),
            InvalidInput,
            "not both",
        ),
        (
            lambda: link_camera(database.uow(), "CAM-03", unit_id="HP-01", preset="1", actor="a"),
            InvalidInput,
            "no ONVIF service",
        ),
        (
            lambda: link_camera(database.uow(), "CAM-03", unit_id="HP-99", actor="a"),
            NotFound,
            "unit 'HP-99'",
        ),
        (
            lambda: link_camera(database.uow(), "CAM-03", zone_id="nowhere", actor="a"),
            NotFound,
            "zone 'nowhere'",
        ),
        (
            lambda: link_camera(database.uow(), "CAM-09", unit_id="HP-01", actor="a"),
            NotFound,
            "not registered",
        ),
        (
            lambda: unlink_camera(database.uow(), "CAM-03", unit_id="HP-01", actor="a"),
            NotFound,
            "not linked",
        ),
        (
            lambda: update_camera(
                database.uow(), sealer, "CAM-03", CameraDetails(latitude=52.0), "a"
            ),
            InvalidInput,
            "both",
        ),
        (
            lambda: update_camera(
                database.uow(), sealer, "CAM-03", CameraDetails(password="x"), "a"
            ),
            InvalidInput,
            "needs a user name",
        ),
    ]
    for call, error, says in cases:
        with pytest.raises(error, match=says):
            call()
    assert list_cameras(database.uow()) == before


def test_one_own_camera_per_unit_and_presets_need_onvif_to_stay(
    database: Database, sealer: Sealer
) -> None:
    seed_demo(database.uow())
    register_camera(database.uow(), sealer, "CAM-01", PTZ, "ada")
    register_camera(
        database.uow(), sealer, "CAM-02", CameraDetails(name="B", rtsp_url="rtsp://b/"), "ada"
    )
    link_camera(database.uow(), "CAM-01", unit_id="HP-01", own=True, preset="1", actor="ada")
    with pytest.raises(InvalidInput, match="own camera is CAM-01"):
        link_camera(database.uow(), "CAM-02", unit_id="HP-01", own=True, actor="ada")
    with pytest.raises(InvalidInput, match="remove them before"):
        update_camera(database.uow(), sealer, "CAM-01", CameraDetails(onvif=""), "ada")
    link_camera(database.uow(), "CAM-02", unit_id="HP-01", actor="ada")
    with database.uow() as uow:
        shown = [(c.camera_id, c.own, c.preset) for c, _ in linked_cameras(uow, "HP-01")]
    assert shown == [("CAM-01", True, "1"), ("CAM-02", False, "")]


def test_a_removed_camera_loses_links_and_account_and_can_come_back(
    database: Database, sealer: Sealer
) -> None:
    seed_demo(database.uow())
    register_camera(database.uow(), sealer, "CAM-01", PTZ, "ada")
    link_camera(database.uow(), "CAM-01", unit_id="HP-01", preset="1", actor="ada")
    remove_camera(database.uow(), "CAM-01", "ada")
    assert list_cameras(database.uow()) == []
    removed = list_cameras(database.uow(), include_removed=True)[0]
    assert (removed.active, removed.links, removed.password_set) == (False, [], False)
    with database.uow() as uow:
        assert linked_cameras(uow, "HP-01") == []
    with pytest.raises(NotFound):
        remove_camera(database.uow(), "CAM-01", "ada")
    back = register_camera(database.uow(), sealer, "CAM-01", PTZ, "ada")
    assert back.active and back.password_set
