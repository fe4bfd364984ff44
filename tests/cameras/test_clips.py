"""A clip around each press from every linked camera: pre-roll from the camera's ring buffer,
the frames as the camera encoded them, checksum, retention, evidence hold and audited access,
as for call recordings; and the failures (an unreachable camera, a server stopping mid-clip)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from helppoint.cameras.rtsp_source import RtspTestSource
from helppoint.domain.cameras import CameraClip, ClipState
from helppoint.domain.model import Role
from helppoint.services.camera_clips import end_stale_clips, purge_clips, verify_clips
from helppoint.services.cameras import CameraDetails, register_camera
from helppoint.services.seed import seed_demo
from helppoint.store.recording_files import recordings_path
from helppoint.store.sealed import Sealer
from helppoint.store.tables import incidents
from tests.calls.operator_peer import signed_in
from tests.conftest import Database, start_server
from tests.e2e.harness import SimulatedUnit, record_event

from .waiting import eventually

pytestmark = pytest.mark.slow

CLIP_SETTINGS = {
    "supervision": False,
    "camera_preroll_seconds": 3,
    "camera_clip_seconds": 5,
    "camera_timeout": 3,
}


def probe(path: Path) -> dict[str, Any]:
    """ffprobe's view of a clip file: its video stream and duration."""
    result = subprocess.run(
        [
            "ffprobe", "-v", "error", "-count_frames", "-show_entries",
            "stream=codec_name,width,height,nb_read_frames:format=duration", "-of", "json",
            str(path),
        ],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    data = json.loads(result.stdout)
    return {**data["streams"][0], "duration": float(data["format"]["duration"])}


async def register(
    admin: httpx.AsyncClient, camera_id: str, url: str, link: dict[str, Any]
) -> None:
    response = await admin.post(
        "/api/admin/cameras", json={"id": camera_id, "name": camera_id, "rtsp_url": url}
    )
    assert response.status_code == 201, response.text
    assert (await admin.put(f"/api/admin/cameras/{camera_id}/links", json=link)).status_code == 200


def preroll_of(server: Any, camera_id: str) -> float:
    """Seconds of frames the server holds for the camera's pre-roll."""
    stream = server.app.state.cameras.pool.get(camera_id)
    kept = stream.kept() if stream is not None else []
    return (kept[-1].at - kept[0].at).total_seconds() if len(kept) > 1 else 0.0


async def clips_of(http: httpx.AsyncClient, incident_id: int) -> list[dict[str, Any]]:
    return list((await http.get(f"/api/incidents/{incident_id}/cameras")).json()["clips"])


async def finished_clips(
    http: httpx.AsyncClient, incident_id: int, count: int
) -> list[dict[str, Any]]:
    async def done() -> list[dict[str, Any]] | None:
        clips = await clips_of(http, incident_id)
        finished = [c for c in clips if c["state"] != "recording"]
        return clips if len(finished) >= count else None

    return await eventually(done, within=60)


async def test_a_press_records_a_clip_with_pre_roll_kept_and_accessed_like_a_recording(
    server_factory: Callable[..., Any], rtsp_sources: Callable[..., RtspTestSource]
) -> None:
    server = server_factory(**CLIP_SETTINGS)
    camera = rtsp_sources(profile="main")
    admin = await signed_in(server, "ada", Role.ADMIN)
    await register(admin, "CAM-01", camera.url, {"unit_id": "HP-01"})
    await register(admin, "DOWN", "rtsp://127.0.0.1:9/stream", {"zone_id": "racecourse"})
    # The job holds the linked camera's stream for its pre-roll.
    await eventually(lambda: asyncio.to_thread(lambda: preroll_of(server, "CAM-01") >= 3))
    unit = await asyncio.to_thread(lambda: SimulatedUnit(server, "HP-01").connect())
    operator = await signed_in(server, "olive")
    supervisor = await signed_in(server, "sam", Role.SUPERVISOR)
    try:
        await asyncio.to_thread(unit.press)
        queue = (await operator.get("/api/incidents/queue")).json()
        incident_id = int(next(i["id"] for i in queue if i["unit_id"] == "HP-01"))
        recording = await eventually(lambda: clips_of(operator, incident_id))
        assert {c["camera_id"] for c in recording} <= {"CAM-01", "DOWN"}
        # A second press during the clip makes it longer, not a second clip.
        await asyncio.to_thread(unit.press)
        finished = await finished_clips(operator, incident_id, 2)
        assert len(finished) == 2, finished  # one clip per camera, the failed one not retried
        clips = {c["camera_id"]: c for c in finished}
        down = clips["DOWN"]
        assert (down["state"], down["available"]) == ("failed", False)
        assert "cannot be reached" in down["detail"]
        clip = clips["CAM-01"]
        assert clip["state"] == "recorded", clip
        assert clip["pre_roll"] >= 2.0, clip
        assert clip["duration"] >= clip["pre_roll"] + 5
        # It reaches camera_clip_seconds past the last press, not a frame short of it.
        detail = (await operator.get(f"/api/incidents/{incident_id}")).json()
        last_press = datetime.fromisoformat(detail["last_event_at"])
        assert datetime.fromisoformat(clip["ended_at"]) >= last_press + timedelta(seconds=5), (
            clip,
            detail["last_event_at"],
        )
        with server.database.uow() as uow:
            stored = uow.cameras.get_clip(clip["id"])
            assert stored is not None
            path = recordings_path(server.app.state.settings) / stored.path
        probed = probe(path)
        assert (probed["codec_name"], probed["width"], probed["height"]) == ("h264", 320, 240)
        assert probed["duration"] >= 7.0
        assert int(probed["nb_read_frames"]) >= 15 * 7
        assert hashlib.sha256(path.read_bytes()).hexdigest() == clip["sha256"]
        timeline = (await operator.get(f"/api/incidents/{incident_id}")).json()["timeline"]
        actions = [e["action"] for e in timeline]
        assert "clip.recorded" in actions and "clip.failed" in actions

        # Playback and export are audited; the file served is the file kept.
        grant = await operator.post(f"/api/clips/{clip['id']}/play")
        assert grant.status_code == 200, grant.text
        played = await operator.get(grant.json()["url"])
        assert played.status_code == 200 and played.content == path.read_bytes()
        assert played.headers["content-type"] == "video/mp4"
        forged = await operator.get(f"/api/clips/{clip['id']}/media?token=1.abc")
        assert forged.status_code == 403
        # The server's own link, changed to last ten years, is refused.
        expires, _, signature = grant.json()["url"].rpartition("token=")[2].partition(".")
        ten_years = f"{int(expires) + 10 * 365 * 86400}.{signature}"
        stale = await operator.get(f"/api/clips/{clip['id']}/media?token={ten_years}")
        assert stale.status_code == 403
        exported = await operator.get(f"/api/clips/{clip['id']}/export")
        assert exported.headers["x-content-sha256"] == clip["sha256"]
        assert "attachment" in exported.headers["content-disposition"]
        assert (await operator.post(f"/api/clips/{down['id']}/play")).status_code == 404
        # Evidence hold: supervisors only.
        assert (
            await operator.post(f"/api/clips/{clip['id']}/hold", json={"reason": "PC 42"})
        ).status_code == 403
        held = await supervisor.post(f"/api/clips/{clip['id']}/hold", json={"reason": "PC 42"})
        assert held.json()["held"] and held.json()["hold_reason"] == "PC 42"
        with server.database.uow() as uow:
            rows, _ = uow.audit.search(limit=None)
            audited = {r.action for r in rows if r.incident_id == incident_id}
        assert {"clip.played", "clip.streamed", "clip.exported", "clip.held"} <= audited

        # Retention: the held clip stays, the failed one's row is purged; then released, gone.
        later = datetime.now(UTC) + timedelta(days=40)
        directory = recordings_path(server.app.state.settings)
        assert purge_clips(server.database.uow, directory, now=later) == 1
        assert path.exists()
        await supervisor.post(f"/api/clips/{clip['id']}/release")
        assert verify_clips(server.database.uow(), directory)[0].problem == ""
        assert purge_clips(server.database.uow, directory, now=later) == 1
        assert not path.exists()
        assert (await operator.post(f"/api/clips/{clip['id']}/play")).status_code == 404
    finally:
        await asyncio.to_thread(unit.stop)
        for client in (admin, operator, supervisor):
            await client.aclose()


async def test_a_server_stopping_mid_clip_keeps_what_it_recorded(
    sqlite_database: Database, rtsp_sources: Callable[..., RtspTestSource]
) -> None:
    server, stop = start_server(sqlite_database, {**CLIP_SETTINGS, "camera_clip_seconds": 600})
    camera = rtsp_sources()
    try:
        admin = await signed_in(server, "ada", Role.ADMIN)
        await register(admin, "CAM-01", camera.url, {"unit_id": "HP-03"})
        await admin.aclose()
        await eventually(lambda: asyncio.to_thread(lambda: preroll_of(server, "CAM-01") >= 2))
        unit = await asyncio.to_thread(lambda: SimulatedUnit(server, "HP-03").connect())
        await asyncio.to_thread(unit.press)

        async def recording() -> bool:
            with server.database.uow() as uow:
                clips = list(uow.cameras.recording_clips())
                return bool(clips)

        await eventually(recording)
        await asyncio.to_thread(unit.stop)
    finally:
        await asyncio.to_thread(stop)
    with sqlite_database.uow() as uow:
        repository = uow.cameras
        (clip,) = [c for c in repository.kept_clips()]
        assert clip.state == ClipState.INTERRUPTED.value, clip.state
        assert "server stopped" in clip.detail
        path = recordings_path(server.app.state.settings) / clip.path
    assert probe(path)["codec_name"] == "h264"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == clip.sha256


def test_clips_a_crashed_server_left_recording_are_closed_with_their_checksum(
    database: Database, tmp_path: Path
) -> None:
    seed_demo(database.uow())
    record_event(SimpleNamespace(database=database), "HP-01", 1, datetime.now(UTC))
    register_camera(
        database.uow(),
        Sealer(secrets.token_bytes(32)),
        "CAM-01",
        CameraDetails(name="c", rtsp_url="rtsp://x/"),
        "ada",
    )
    (tmp_path / "incident-000001").mkdir()
    partial = tmp_path / "incident-000001" / "clip-a.mp4"
    partial.write_bytes(b"\x00\x00\x00\x18ftypiso5 partial")
    pressed = datetime.now(UTC) - timedelta(seconds=30)
    with database.session() as session:
        incident_id = session.scalars(select(incidents.c.id)).one()
    with database.uow() as uow:
        for path in ("incident-000001/clip-a.mp4", "incident-000001/clip-gone.mp4"):
            uow.cameras.add_clip(
                CameraClip(
                    camera_id="CAM-01",
                    incident_id=incident_id,
                    unit_id="HP-01",
                    path=path,
                    media_type="video/mp4",
                    pressed_at=pressed,
                    started_at=pressed,
                )
            )
        uow.commit()
    assert end_stale_clips(database.uow(), tmp_path, timedelta(days=31)) == 2
    with database.uow() as uow:
        clips = {c.path: c for c in uow.cameras.clips_of(incident_id)}
    kept = clips["incident-000001/clip-a.mp4"]
    assert kept.state == "interrupted"
    assert kept.sha256 == hashlib.sha256(partial.read_bytes()).hexdigest()
    assert clips[""].state == "failed"
    assert end_stale_clips(database.uow(), tmp_path, timedelta(days=31)) == 0
    # Integrity: a changed file and a missing one are reported.
    assert [c.problem for c in verify_clips(database.uow(), tmp_path)] == [""]
    partial.write_bytes(b"changed")
    assert "checksum does not match" in verify_clips(database.uow(), tmp_path)[0].problem
    partial.unlink()
    assert verify_clips(database.uow(), tmp_path)[0].problem == "file missing"
