"""The issue's browser test of cameras: a press, the incident, the linked council camera (the
RTSP test source) shows moving video forwarded as H.264; enlarge and switch; a camera that
cannot be reached says so. Debian's Chromium through Playwright."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from helppoint.cameras.rtsp_source import RtspTestSource
from helppoint.domain.model import Role
from helppoint.store.recording_files import recordings_path
from tests.conftest import http_client
from tests.e2e.harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    UNREACHABLE_TILES,
    Consoles,
    SimulatedUnit,
)

from .conftest import CAMERA_PASSWORD, CAMERA_USER
from .onvif_ptz import ThreadedOnvif

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Media on a busy 2-core machine can take a while; waits are generous, nothing is timed.
expect.set_options(timeout=30_000)

#: A signature of the picture a <video> shows now (null until it shows one).
FRAME_SIGNATURE = """
window.__frame = (selector) => {
  const video = document.querySelector(selector);
  if (!video || video.readyState < 2 || !video.videoWidth) return null;
  const canvas = document.createElement("canvas");
  canvas.width = 80;
  canvas.height = 60;
  const context = canvas.getContext("2d");
  context.drawImage(video, 0, 0, 80, 60);
  const data = context.getImageData(0, 0, 80, 60).data;
  let sum = 0;
  for (let i = 0; i < data.length; i += 4) {
    sum = (sum * 31 + data[i] + 3 * data[i + 1] + 7 * data[i + 2]) >>> 0;
  }
  return `${video.videoWidth}x${video.videoHeight}:${sum}`;
};
"""


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def onvif() -> Iterator[ThreadedOnvif]:
    """The council camera's PTZ (ONVIF) service: a test double recording what it is told."""
    double = ThreadedOnvif(user=CAMERA_USER, password=CAMERA_PASSWORD, presets={"1": "HP-01"})
    yield double
    double.stop()


@pytest.fixture
def camera_server(server_factory: Callable[..., Any]) -> Any:
    return server_factory(
        map_tiles_url=UNREACHABLE_TILES,
        supervision=False,
        camera_timeout=2,
        camera_preroll_seconds=3,
        camera_clip_seconds=5,
    )


@pytest.fixture
def consoles(browser: Browser, camera_server: Any) -> Iterator[Consoles]:
    opened = Consoles(browser, camera_server)
    yield opened
    opened.close()
    assert not opened.errors, f"JavaScript errors in the page: {opened.errors}"


def admin_registers(server: Any, cameras: list[dict[str, Any]]) -> None:
    server.add_operator("ada", PASSWORD, Role.ADMIN)
    with http_client(server.base_url, timeout=None) as http:
        assert http.post("/api/login", json={"username": "ada", "password": PASSWORD}).is_success
        for camera in cameras:
            link = camera.pop("link")
            response = http.post("/api/admin/cameras", json=camera)
            assert response.status_code == 201, response.text
            response = http.put(f"/api/admin/cameras/{camera['id']}/links", json=link)
            assert response.status_code == 200, response.text


def moving(page: Page, selector: str) -> None:
    """The video shows a picture, then a different one: it is live, not a still."""
    handle = page.wait_for_function("(s) => window.__frame(s)", arg=selector)
    first = handle.json_value()
    page.wait_for_function(
        "([s, first]) => { const now = window.__frame(s); return now && now !== first; }",
        arg=[selector, first],
    )


def test_a_press_shows_the_linked_council_camera_live(
    consoles: Consoles,
    camera_server: Any,
    rtsp_sources: Callable[..., RtspTestSource],
    onvif: ThreadedOnvif,
) -> None:
    # High profile, as many council cameras send: forwarded all the same (the browser's
    # decoder takes it though the answer names constrained baseline).
    council = rtsp_sources(user=CAMERA_USER, password=CAMERA_PASSWORD, profile="high")
    bridge = rtsp_sources()
    admin_registers(
        camera_server,
        [
            {
                "id": "CAM-01",
                "name": "Market Square",
                "rtsp_url": council.url,
                "username": CAMERA_USER,
                "password": CAMERA_PASSWORD,
                "onvif": f"127.0.0.1:{onvif.double.port}",
                "link": {"unit_id": "HP-01", "preset": "1"},
            },
            {
                "id": "CAM-02",
                "name": "Bridge Street",
                "rtsp_url": bridge.url,
                "link": {"zone_id": "racecourse"},
            },
            {
                "id": "CAM-09",
                "name": "Broken mast",
                "rtsp_url": "rtsp://127.0.0.1:9/stream",
                "link": {"unit_id": "HP-01"},
            },
        ],
    )
    page = consoles.open("olive", before=lambda p: p.add_init_script(FRAME_SIGNATURE))
    unit = SimulatedUnit(camera_server, "HP-01").connect()
    try:
        unit.press()
        # The PTZ camera turns to the help point's preset on the press, before anyone looks.
        onvif.until(lambda: len(onvif.double.received) == 1)
        assert onvif.double.received[0].preset == "1"
        row = page.locator(".queue-row[data-unit='HP-01']")
        row.click()
        tiles = page.locator("#camera-tiles .camera-tile")
        expect(tiles).to_have_count(3)
        market = page.locator(".camera-tile[data-camera='CAM-01']")
        expect(market).to_have_attribute("data-state", "live")
        expect(market.locator(".camera-state")).to_have_text("Live · H.264 forwarded")
        moving(page, "video.camera-video[data-camera='CAM-01']")
        broken = page.locator(".camera-tile[data-camera='CAM-09']")
        expect(broken).to_have_attribute("data-state", "unreachable")
        expect(broken.locator(".camera-state")).to_contain_text("Camera unreachable")
        # Enlarge, then switch to the zone's camera.
        market.get_by_role("button", name="Enlarge").click()
        dialog = page.locator("#camera-dialog")
        expect(dialog).to_be_visible()
        expect(page.locator("#camera-dialog-title")).to_have_text("Market Square")
        moving(page, "#camera-large")
        # Move it: hold "pan right", let go; then turn it back to the help point.
        page.locator("button[data-move='Pan right']").hover()
        page.mouse.down()
        onvif.until(lambda: len(onvif.double.moves) == 1)
        page.mouse.up()
        onvif.until(lambda: onvif.double.stops == 1)
        assert (onvif.double.moves[0].pan, onvif.double.moves[0].tilt) == (0.5, 0.0)
        page.locator("#camera-preset-turn").click()
        expect(page.locator("#camera-ptz-status")).to_have_text("Turned to the help point")
        assert len(onvif.double.received) == 2
        page.locator("#camera-next").click()
        expect(page.locator("#camera-dialog-title")).to_have_text("Broken mast")
        expect(page.locator("#camera-large-state")).to_contain_text("Camera unreachable")
        expect(page.locator("#camera-controls")).to_contain_text("Fixed camera")
        page.locator("#camera-dialog .camera-switcher button[data-camera='CAM-02']").click()
        expect(page.locator("#camera-dialog-title")).to_have_text("Bridge Street")
        moving(page, "#camera-large")
        page.locator("#camera-dialog-close").click()
        expect(dialog).to_be_hidden()

        # The clip around the press: recorded, played in the console (audited), a real file.
        clip = page.locator("#camera-clips li[data-state='recorded']")
        expect(clip).to_have_count(2)  # the two cameras that work; the broken one has none
        expect(page.locator("#camera-clips li[data-state='failed']")).to_contain_text(
            "Broken mast: no clip"
        )
        clip.first.get_by_role("button", name="Play").click()
        page.wait_for_function(
            "() => { const v = document.querySelector('#clip-player'); "
            "return v && v.readyState >= 2 && v.currentTime > 0.5; }"
        )
        clip_id = int(page.locator("#clip-player").get_attribute("data-clip") or 0)
        with camera_server.database.uow() as uow:
            stored = uow.cameras.get_clip(clip_id)
            assert stored is not None and stored.state == "recorded"
            path = recordings_path(camera_server.app.state.settings) / stored.path
            rows, _ = uow.audit.search(action="clip.played", limit=10)
        probed = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name:format=duration",
             "-of", "json", str(path)],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        info = json.loads(probed.stdout)
        assert info["streams"][0]["codec_name"] == "h264"
        assert float(info["format"]["duration"]) >= 5.0
        assert [r.detail["clip_id"] for r in rows] == [clip_id]
    finally:
        unit.stop()
