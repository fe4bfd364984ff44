"""The issue's browser test for SIP help points: Debian's baresip is the help point, headless
Chromium (its fake microphone playing a 660 Hz tone) is the operator's console.

Press (the device dials) → incident on the console → the operator acknowledges and answers with
one click → audio both ways: the device's recording carries the operator's 660 Hz, the
server's recording carries the device's 440 Hz and the operator's 660 Hz → the light button
sends the unit's light action (DTMF *1), which the device receives → hang up with `h`.
"""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Browser, Playwright, expect, sync_playwright

from helppoint.domain.model import Role
from helppoint.services.seed import seed_demo
from helppoint.store.recording_files import recordings_path
from tests.calls.test_call_browser import RECORD_PEERS, answer, wait_for_stats
from tests.e2e.harness import CHROMIUM, CHROMIUM_ARGS, UNREACHABLE_TILES, Consoles

from .conftest import UNIT, add_unit, within
from .device import dominant_hz, free_port, require_sip_software
from .recording import stream_tones
from .test_bad_input import invite_as_intruder

pytestmark = [pytest.mark.browser, pytest.mark.slow]

expect.set_options(timeout=20_000)

OPERATOR_HZ = 660.0
DEVICE_HZ = 440.0


def operator_voice(path: Path) -> Path:
    """What Chromium's fake microphone plays: a 660 Hz tone, 48 kHz mono."""
    rate = 48000
    t = np.arange(rate * 30) / rate
    samples = (0.4 * 32767 * np.sin(2 * np.pi * OPERATOR_HZ * t)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    require_sip_software()
    voice = operator_voice(tmp_path_factory.mktemp("voice") / "operator.wav")
    playwright: Playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                *CHROMIUM_ARGS,
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={voice}",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def server(sqlite_database: Any, server_factory: Any) -> Any:
    seed_demo(sqlite_database.uow())
    add_unit(sqlite_database, light_on="dtmf:*1")
    return server_factory(
        sip_port=free_port(), sip_keepalive=5, map_tiles_url=UNREACHABLE_TILES, supervision=False
    )


def test_press_answer_talk_both_ways_and_hang_up_in_the_browser(
    browser: Browser, server: Any, devices: Any
) -> None:
    consoles = Consoles(browser, server)
    try:
        device = devices(server, tone_hz=DEVICE_HZ)
        gateway = server.app.state.sip
        within(lambda: UNIT in gateway.registered, 10, "the device registers")
        page = consoles.open("olive", before=lambda p: p.add_init_script(RECORD_PEERS))
        device.command("dial", f"sip:helppoint@127.0.0.1:{server.app.state.settings.sip_port}")
        answer(page, UNIT)  # the alarm's row → acknowledge → Answer call
        expect(page.locator("#call-status")).to_have_text(
            "In a call: you are talking and listening."
        )
        expect(page.locator(".incident .state")).to_have_text("In call")
        # The browser hears the help point (energy in its inbound audio).
        wait_for_stats(page, lambda s: s["audio"]["packets"] > 50 and s["audio"]["energy"] > 0)
        # The light button drives the help point's relay: DTMF *1 (RFC 4733) in the call.
        page.locator("#light-start").click()
        within(lambda: device.dtmf_received() == "*1", 15, "the device receives DTMF *1")
        page.wait_for_timeout(1000)  # more talk each way
        page.keyboard.press("h")
        expect(page.locator("#call-status")).to_have_text("Not in a call.")
        expect(page.locator("#call-history li[data-kind='call']")).to_contain_text("hung up")
        assert not consoles.errors, consoles.errors
    finally:
        consoles.close()

    # The device heard the operator (its own recording of what it received).
    heard = within(lambda: list(device.recordings.glob("dump-*-dec.wav")), 15, "its recording")
    within(lambda: heard[0].stat().st_size > 20_000, 15, "its recording is written")
    hz, level = dominant_hz(heard[0])
    assert abs(hz - OPERATOR_HZ) < 15 and level > 100, (hz, level)
    # The server's recording carries each side's tone on its own stream.
    [path] = list(recordings_path(server.app.state.settings).rglob("call-*.webm"))
    tones = stream_tones(path)
    assert abs(tones["unit audio"][0] - DEVICE_HZ) < 15, tones
    assert abs(tones["operator audio"][0] - OPERATOR_HZ) < 15, tones


def test_a_supervisor_is_shown_a_refused_caller_at_once_and_an_operator_is_not(
    browser: Browser, server: Any
) -> None:
    consoles = Consoles(browser, server)
    try:
        supervisor = consoles.open("sue", Role.SUPERVISOR)
        operator = consoles.open("olive")
        invite_as_intruder(server.app.state.settings.sip_port)
        notice = supervisor.locator(".toast.error")
        expect(notice).to_contain_text("SIP refused")
        expect(notice).to_contain_text(
            'A call (press) from 127.0.0.1 with account "intruder" was refused: unknown '
            "account. No incident was opened."
        )
        expect(operator.locator(".toast")).to_have_count(0)
        assert not consoles.errors, consoles.errors
    finally:
        consoles.close()
