"""The admin page for unit messages in a real browser: a real audio file is accepted and
listed; a file that is not audio is refused with the reason, and nothing is added."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from helppoint.domain.model import Role
from tests.media.audio_files import wav

from .harness import PASSWORD, Consoles

pytestmark = pytest.mark.browser


def test_admin_uploads_a_message_and_a_non_audio_file_is_refused(
    consoles: Consoles, tmp_path: Path
) -> None:
    page = consoles.new_page()
    consoles.server.add_operator("adam", PASSWORD, Role.ADMIN)
    consoles.sign_in(page, "adam")
    page.wait_for_url(f"{consoles.server.base_url}/")
    page.goto(f"{consoles.server.base_url}/admin/prompts")
    rows = page.locator("#prompts-list tr")
    expect(rows).to_have_count(3)  # the built-in prompts
    expect(page.locator("#prompts-status")).to_have_text("3 messages (0 uploaded).")

    fake = tmp_path / "gate.wav"
    fake.write_text("this is not audio at all")
    page.get_by_label("Name (lower-case letters, digits, _)").fill("gate_closed")
    page.get_by_label("Title (shown to operators)").fill("The gate is closed")
    page.get_by_label("Audio file").set_input_files(str(fake))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#prompt-error")).to_contain_text("the file is not audio")
    expect(rows).to_have_count(3)

    real = tmp_path / "gate-real.wav"
    real.write_bytes(wav(1.5))
    page.get_by_label("Audio file").set_input_files(str(real))
    page.get_by_role("button", name="Upload").click()
    row = page.locator("#prompts-list tr[data-prompt='gate_closed']")
    expect(row).to_contain_text("The gate is closed")
    expect(row).to_contain_text("WAV, 1.5 s")
    expect(page.locator("#prompts-status")).to_have_text("4 messages (1 uploaded).")
    row.get_by_role("button", name="Remove gate_closed").click()
    expect(rows).to_have_count(3)
