"""Listening in from the console (static/listen.js) in headless Chromium: the operator hears
the pressed unit's microphone without answering, and the server audits it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from helppoint.agent.call import CallMedia
from helppoint.domain.calls import EndReason
from tests.calls.test_call_browser import (  # noqa: F401  (fixtures)
    RECORD_PEERS,
    UnitsInThread,
    audit_actions,
    browser,
    playwright,
    wait_for_stats,
)
from tests.e2e.harness import UNREACHABLE_TILES, Consoles

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LISTEN = """
async (id) => {
  const module = await import("/static/listen.js");
  window.__listenChanges = [];
  module.onListeningChange((value) => window.__listenChanges.push(value));
  const answer = await module.listen(id);
  return { unit: answer.unit_id, listening: module.listeningTo() };
}
"""

STOP = """
async () => {
  const module = await import("/static/listen.js");
  await module.stopListening();
  return { listening: module.listeningTo(), changes: window.__listenChanges };
}
"""


#: Keeps every text the console announces to screen readers in window.__announced (a later
#: announcement replaces the text of the live region).
RECORD_ANNOUNCEMENTS = """
() => {
  window.__announced = [];
  new MutationObserver(() => {
    const text = document.getElementById("announcer").textContent;
    if (text) window.__announced.push(text);
  }).observe(document.getElementById("announcer"), { childList: true, characterData: true,
    subtree: true });
}
"""


@pytest.fixture
def listen_server(server_factory: Callable[..., Any]) -> Any:
    return server_factory(map_tiles_url=UNREACHABLE_TILES, supervision=False)


@pytest.fixture
def consoles(browser: Browser, listen_server: Any) -> Iterator[Consoles]:  # noqa: F811
    opened = Consoles(browser, listen_server)
    yield opened
    opened.close()
    assert not opened.errors, f"JavaScript errors in the page: {opened.errors}"


def queued_incident(page: Page, unit_id: str) -> int:
    row = page.locator(f".queue-row[data-unit='{unit_id}']")
    row.wait_for()
    incident_id = page.evaluate(
        """async (unit) => {
          const queue = await (await fetch("/api/incidents/queue")).json();
          return queue.find((i) => i.unit_id === unit).id;
        }""",
        unit_id,
    )
    return int(incident_id)


def test_the_operator_listens_in_to_a_pressed_unit_without_answering(
    consoles: Consoles, listen_server: Any
) -> None:
    units = UnitsInThread(listen_server, {"HP-04": CallMedia()})
    try:
        units.fleets["HP-04"].hear("HP-04", "voice")
        page = consoles.open("olive", before=lambda p: p.add_init_script(RECORD_PEERS))
        units.press("HP-04")
        incident_id = queued_incident(page, "HP-04")
        started = page.evaluate(LISTEN, incident_id)
        assert started == {"unit": "HP-04", "listening": incident_id}
        # The caller's voice reaches the browser (audio with energy, not silence).
        stats = wait_for_stats(
            page, lambda s: s["audio"]["packets"] > 50 and s["audio"]["energy"] > 0
        )
        assert stats["audio"]["energy"] > 0
        # Listening in is not answering: still new, and the unit plays nothing back.
        state = page.evaluate(
            "async (id) => (await (await fetch(`/api/incidents/${id}`)).json()).state",
            incident_id,
        )
        assert state == "new"
        assert [e.actor for e in audit_actions(listen_server, "evidence.listened_in")] == ["olive"]
        stopped = page.evaluate(STOP)
        assert stopped == {"listening": None, "changes": [incident_id, None]}
    finally:
        units.stop()


def test_after_the_servers_listen_ended_one_key_listens_in_again(
    consoles: Consoles, listen_server: Any
) -> None:
    units = UnitsInThread(listen_server, {"HP-04": CallMedia()})
    try:
        units.fleets["HP-04"].hear("HP-04", "voice")
        page = consoles.open("olive")
        page.evaluate(RECORD_ANNOUNCEMENTS)
        units.press("HP-04")
        row = page.locator(".queue-row[data-unit='HP-04']")
        expect(row).to_have_attribute("aria-selected", "true")
        listen = page.locator("#listen-button")
        page.keyboard.press("l")
        expect(listen).to_have_attribute("aria-pressed", "true")

        # The server's listen ends (as when its time is up) while the operator listens in;
        # the browser's peer connection alone would look connected for many seconds.
        server_loop = listen_server.app.state.broker._loop
        listens = listen_server.app.state.calls.listens
        asyncio.run_coroutine_threadsafe(
            listens.stop_unit("HP-04", EndReason.LISTENED), server_loop
        ).result(10)
        expect(listen).to_have_attribute("aria-pressed", "false")
        expect(listen).to_contain_text("Listen in")
        page.wait_for_function(
            "(text) => window.__announced.includes(text)",
            arg="Listening in ended: the time for listening is up. Press l to listen again.",
        )
        page.keyboard.press("l")  # one key: a new listen, not a "stop" of the ended one
        expect(listen).to_have_attribute("aria-pressed", "true")
        actors = [e.actor for e in audit_actions(listen_server, "evidence.listened_in")]
        assert actors == ["olive", "olive"]
        assert row.get_attribute("data-state") == "new"
    finally:
        units.stop()
