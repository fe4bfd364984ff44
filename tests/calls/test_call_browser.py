"""The issue's end-to-end test: headless Chromium with fake media devices answers a simulated
unit's alarm; audio and video flow both ways through the server, which records the call."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import av
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from helppoint.agent.call import CallMedia, UnitCall
from helppoint.domain.model import Role
from helppoint.sim.fleet import Fleet
from helppoint.store.recording_files import recordings_path
from tests.e2e.harness import CHROMIUM, CHROMIUM_ARGS, UNREACHABLE_TILES, Consoles

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Media on a busy 2-core machine can take a while; waits are generous, nothing is timed.
expect.set_options(timeout=20_000)

FAKE_MEDIA = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]

#: Keeps every RTCPeerConnection the page makes, so the test can read its getStats().
RECORD_PEERS = """
(() => {
  const Original = window.RTCPeerConnection;
  window.__peers = [];
  window.RTCPeerConnection = function (...args) {
    const pc = new Original(...args);
    window.__peers.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Original.prototype;
})();
"""

#: Records the call panel's notes each time it is drawn in the dropped state.
WATCH_DROPPED = """
() => {
  window.droppedViews = [];
  const status = document.getElementById("call-status");
  const note = () => {
    if (status.textContent === "Call dropped.") {
      window.droppedViews.push(document.getElementById("call-works").textContent);
    }
  };
  new MutationObserver(note).observe(status.closest(".call-block"), {
    subtree: true, childList: true, characterData: true,
  });
}
"""

BLOCK_MICROPHONE = """
navigator.mediaDevices.getUserMedia = () =>
  Promise.reject(new DOMException("Permission denied", "NotAllowedError"));
"""

INBOUND = """
async () => {
  const pc = window.__peers[window.__peers.length - 1];
  if (!pc) return null;
  const out = { audio: null, video: null, state: pc.connectionState };
  (await pc.getStats()).forEach((s) => {
    if (s.type === "inbound-rtp") {
      out[s.kind] = {
        packets: s.packetsReceived || 0,
        energy: s.totalAudioEnergy || 0,
        level: s.audioLevel || 0,
        frames: s.framesDecoded || 0,
      };
    }
  });
  return out;
}
"""


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *FAKE_MEDIA]
    )
    yield browser
    browser.close()


class UnitsInThread:
    """A simulated fleet (real agents with their call peers) on its own event loop."""

    def __init__(self, server: Any, units: dict[str, CallMedia]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.fleets = {
            unit_id: Fleet(
                server.base_url,
                [(unit_id, server.key(unit_id))],
                call_media=media,
                backoff_base=0.2,
                backoff_cap=1.0,
            )
            for unit_id, media in units.items()
        }
        for fleet in self.fleets.values():
            self.run(fleet.start())
            self.run(fleet.wait_connected(10))

    def run(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def press(self, unit_id: str) -> None:
        self.fleets[unit_id].press(unit_id)

    def calls(self, unit_id: str) -> Any:
        return self.fleets[unit_id].unit(unit_id).calls

    def current_call(self, unit_id: str) -> UnitCall:
        call: UnitCall = self.run(self.calls(unit_id).wait_for_call(20))
        return call

    def stop(self) -> None:
        for fleet in self.fleets.values():
            self.run(fleet.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


@pytest.fixture
def call_server(server_factory: Callable[..., Any]) -> Any:
    return server_factory(map_tiles_url=UNREACHABLE_TILES, supervision=False)


@pytest.fixture
def consoles(browser: Browser, call_server: Any) -> Iterator[Consoles]:
    opened = Consoles(browser, call_server)
    yield opened
    opened.close()
    assert not opened.errors, f"JavaScript errors in the page: {opened.errors}"


def wait_for_stats(
    page: Page, check: Callable[[dict[str, Any]], bool], seconds: float = 20
) -> dict[str, Any]:
    """Poll the browser's inbound RTP stats until ``check`` holds (or fail with the last)."""
    deadline = time.monotonic() + seconds
    stats: dict[str, Any] = {}
    while time.monotonic() < deadline:
        stats = page.evaluate(INBOUND) or {}
        if stats.get("audio") and check(stats):
            return stats
        page.wait_for_timeout(200)
    raise AssertionError(f"the browser did not receive the expected media: {stats}")


def answer(page: Page, unit_id: str) -> None:
    row = page.locator(f".queue-row[data-unit='{unit_id}']")
    expect(row).to_be_visible()
    row.click()
    page.locator("#ack-button").click()
    expect(page.locator("#call-answer")).to_be_enabled()
    page.locator("#call-answer").click()


def audit_actions(server: Any, action: str) -> list[Any]:
    with server.database.uow() as uow:
        rows, _ = uow.audit.search(action=action, limit=100)
        return list(rows)


def test_operator_answers_hears_and_sees_the_unit_and_the_call_is_recorded(
    consoles: Consoles, call_server: Any
) -> None:
    units = UnitsInThread(call_server, {"HP-02": CallMedia()})
    try:
        page = consoles.open("olive", before=lambda p: p.add_init_script(RECORD_PEERS))
        units.press("HP-02")
        answer(page, "HP-02")
        expect(page.locator("#call-status")).to_have_text(
            "In a call: you are talking and listening."
        )
        expect(page.locator(".incident .state")).to_have_text("In call")

        # The browser receives the unit's audio (not silence) and video.
        stats = wait_for_stats(
            page,
            lambda s: (
                s["audio"]["packets"] > 50
                and s["audio"]["energy"] > 0
                and bool(s["video"])
                and s["video"]["frames"] > 10
            ),
        )
        assert stats["audio"]["energy"] > 0 and stats["video"]["frames"] > 10
        expect(page.locator("#call-video")).to_be_visible()

        # The unit receives the operator's audio (Chromium's fake microphone beeps).
        call = units.current_call("HP-02")
        assert call.meter is not None
        units.run(call.meter.wait_for(10, loud=True, timeout=20))
        assert call.received.peak_level > 0

        page.wait_for_timeout(1500)
        page.keyboard.press("h")  # hang up with the shortcut
        expect(page.locator("#call-status")).to_have_text("Not in a call.")
        recording_row = page.locator("#recordings li[data-recording][data-kind='call']")
        expect(recording_row).to_have_count(1)
        expect(page.locator("#call-history li")).to_have_count(2)
        expect(page.locator("#call-history li[data-kind='call']")).to_contain_text("hung up")
        # Before the answer the server listened to the unit's press-time audio (triage.md).
        expect(page.locator("#call-history li[data-kind='press']")).to_contain_text(
            "Press-time audio"
        )
        expect(page.locator(".incident .state")).to_have_text("Acknowledged")

        incident_id = int(page.locator("article.incident").get_attribute("data-id") or 0)
        info = page.request.get(f"{call_server.base_url}/api/incidents/{incident_id}/call").json()
        [past_call] = [c for c in info["calls"] if c["kind"] == "call"]
        [recording] = [r for r in info["recordings"] if r["call_id"] == past_call["id"]]
        assert past_call["end_reason"] == "hangup" and past_call["talk"] and past_call["video"]

        # The recording exists, matches its checksum and decodes with the call's length.
        directory = recordings_path(call_server.app.state.settings)
        [path] = list(directory.rglob("call-*.webm"))
        data = path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == recording["sha256"]
        with av.open(str(path)) as container:
            titles = sorted(s.metadata.get("title", "") for s in container.streams)
            assert titles == ["operator audio", "unit audio", "unit video"]
            assert container.duration is not None
            assert abs(container.duration / 1_000_000 - recording["duration"]) < 1.0
            video = next(s for s in container.streams if s.type == "video")
            assert sum(1 for _ in container.decode(video)) > 10
        assert recording["duration"] > 1.5

        # Playback and export are audited with who and when.
        recording_row.get_by_role("button", name="Play").click()
        expect(page.locator("#recording-player")).to_be_visible()
        exported = page.request.get(
            f"{call_server.base_url}/api/recordings/{recording['id']}/export"
        )
        assert exported.ok
        assert hashlib.sha256(exported.body()).hexdigest() == recording["sha256"]
        assert exported.headers["x-content-sha256"] == recording["sha256"]
        [played] = audit_actions(call_server, "recording.played")
        [export] = audit_actions(call_server, "recording.exported")
        for entry in (played, export):
            assert entry.actor == "olive" and entry.incident_id == incident_id and entry.at
            assert entry.detail["recording_id"] == recording["id"]
    finally:
        units.stop()


def test_listen_only_without_a_microphone_and_no_camera_and_the_call_comes_back(
    consoles: Consoles, call_server: Any
) -> None:
    units = UnitsInThread(call_server, {"HP-04": CallMedia(video_source="none")})
    try:

        def prepare(page: Page) -> None:
            page.add_init_script(RECORD_PEERS)
            page.add_init_script(BLOCK_MICROPHONE)

        page = consoles.open("oscar", role=Role.OPERATOR, before=prepare)
        units.press("HP-04")
        answer(page, "HP-04")
        expect(page.locator("#call-status")).to_have_text("In a call: LISTEN ONLY (no microphone).")
        expect(page.locator("#call-novideo")).to_have_text(
            "No video from the unit; you can still hear and talk."
        )
        expect(page.locator("#call-works")).to_contain_text("this unit has no camera")
        expect(page.locator("#call-mute")).to_be_disabled()
        wait_for_stats(page, lambda s: s["audio"]["packets"] > 25 and s["audio"]["energy"] > 0)
        first = units.current_call("HP-04")

        # The unit's link drops: the operator is told, and the call comes back with the link.
        # The unit reconnects at once, so the dropped state may last a moment only: what the
        # operator saw while it lasted is recorded in the page as it is drawn.
        page.evaluate(WATCH_DROPPED)
        server_loop = call_server.app.state.broker._loop
        hub = call_server.app.state.device_link
        connection = hub._connections["HP-04"]
        asyncio.run_coroutine_threadsafe(
            connection.websocket.close(code=1001, reason="test: link lost"), server_loop
        ).result(5)
        page.wait_for_function("window.droppedViews.length > 0")
        assert any("unaffected" in works for works in page.evaluate("window.droppedViews"))
        expect(page.locator("#call-status")).to_have_text(
            "In a call: LISTEN ONLY (no microphone).", timeout=20_000
        )
        second = units.current_call("HP-04")
        assert second is not first and first.end_reason
        incident_id = int(page.locator("article.incident").get_attribute("data-id") or 0)
        info = page.request.get(f"{call_server.base_url}/api/incidents/{incident_id}/call").json()
        assert info["active"] is not None
        calls = [c for c in info["calls"] if c["kind"] == "call"]  # not the press-time audio
        assert [c["end_reason"] for c in calls][:1] == ["unit_lost"]
        incident = page.request.get(f"{call_server.base_url}/api/incidents/{incident_id}").json()
        assert incident["state"] == "in_call"
    finally:
        units.stop()
