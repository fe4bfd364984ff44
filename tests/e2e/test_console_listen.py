"""The press-time evidence in the console, end to end: a simulated unit whose microphone hears a
voice is judged by the server, the console shows it live, asks before weeding it out, and the
operator listens in with one key."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from helppoint.agent.call import CallMedia
from tests.calls.test_call_browser import RECORD_PEERS, UnitsInThread, audit_actions

from .harness import Consoles

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_voice_heard_at_the_unit_shows_live_asks_first_and_l_listens_in(
    consoles: Consoles, console_server: Any
) -> None:
    units = UnitsInThread(console_server, {"HP-04": CallMedia(), "HP-07": CallMedia()})
    try:
        units.fleets["HP-04"].hear("HP-04", "voice")
        units.fleets["HP-07"].hear("HP-07", "silence")
        page = consoles.open("olive", before=lambda p: p.add_init_script(RECORD_PEERS))
        units.press("HP-04")
        units.press("HP-07")
        voice_row = page.locator(".queue-row[data-unit='HP-04']")
        expect(voice_row).to_have_attribute("data-voice", "voice", timeout=30_000)
        expect(page.locator(".queue-row[data-unit='HP-07']")).to_have_attribute(
            "data-voice", "silent", timeout=30_000
        )
        expect(voice_row.locator(".voice")).to_have_text("Voice heard")
        expect(voice_row).to_have_attribute("aria-selected", "true")
        expect(page.locator("#incident-voice")).to_contain_text("Voice heard")

        page.keyboard.press("l")  # listen in without answering
        listen = page.locator("#listen-button")
        expect(listen).to_have_attribute("aria-pressed", "true")
        expect(listen).to_contain_text("Stop listening")
        expect(voice_row).to_have_attribute("data-state", "new")
        assert [e.actor for e in audit_actions(console_server, "evidence.listened_in")] == ["olive"]
        page.keyboard.press("l")
        expect(listen).to_have_attribute("aria-pressed", "false")

        page.keyboard.press("f")  # a person may be there: asked first
        expect(page.get_by_role("dialog", name="A person may be there")).to_be_visible()
        page.keyboard.press("Escape")
        expect(voice_row).to_have_attribute("data-state", "new")

        # In the storm view the voice tile comes first; the silent one closes with one key.
        page.keyboard.press("g")
        tiles = page.locator("#storm-grid .tile")
        expect(tiles.first).to_have_attribute("data-unit", "HP-04")
        expect(tiles.first).to_have_class("tile genuine-looking focused")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("f")
        expect(tiles).to_have_count(1)
    finally:
        units.stop()
