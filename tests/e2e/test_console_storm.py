"""The storm view: every open alarm as a tile, weeded out one key per tile or several chosen
together, the one where a voice was heard first and standing out, all by keyboard."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from helppoint.agent.stills import StillSender, TestPatternStills
from helppoint.domain.events import EventType
from helppoint.domain.model import IncidentState
from helppoint.domain.triage import Voice
from helppoint.services.ingest import ReportedEvent, handle_device_events
from helppoint.services.units import provision_unit
from helppoint.store import tables as t
from helppoint.store.repositories import IncidentFilter

from .harness import Consoles, record_event

pytestmark = pytest.mark.browser

UNITS = [f"HP-0{n}" for n in range(1, 9)] + [f"HP-4{n}" for n in range(6)]


def judge(server: Any, unit_id: str, voice: Voice, level: float) -> None:
    """Store a voice judgement on the unit's open incident, as the press-time audio path does."""
    with server.database.session() as session:
        session.execute(
            update(t.incidents)
            .where(t.incidents.c.unit_id == unit_id)
            .values(voice=voice.value, voice_level=level)
        )
        session.commit()


def incident_of(server: Any, unit_id: str) -> Any:
    with server.database.uow() as uow:
        [incident], _ = uow.incidents.search(IncidentFilter(unit_id=unit_id))
        return incident, [a.action for a in uow.audit.for_incident(incident.id)]


def tile(page: Page, unit_id: str) -> Any:
    return page.locator(f"#storm-grid .tile[data-unit='{unit_id}']")


@pytest.fixture
def storm(console_server: Any) -> Any:
    """Fourteen alarms a few seconds apart; HP-05 heard a voice, most others were silent."""
    uow = console_server.database.uow()
    with uow:
        for n in range(6):
            console_server.units.append(
                provision_unit(uow, f"HP-4{n}", f"Guildhall Road {n}", "town-centre", 52.236, -0.89)
            )
        uow.commit()
    now = datetime.now(UTC)
    for n, unit in enumerate(UNITS):
        record_event(console_server, unit, 1, now - timedelta(seconds=20 - n))
    for unit in UNITS:
        if unit not in ("HP-05", "HP-08"):
            judge(console_server, unit, Voice.SILENT, 0.02)
    judge(console_server, "HP-05", Voice.VOICE, 0.61)
    # Triage marked HP-07 (it keeps being pressed) and a rule suggests a reason: shown only.
    with console_server.database.session() as session:
        session.execute(
            update(t.incidents)
            .where(t.incidents.c.unit_id == "HP-07")
            .values(mark="chattering", suggested="false_malicious", suggested_by="night pranks")
        )
        session.commit()
    # HP-08 is not judged yet. Two units sent their camera still, as a unit does at once.
    for unit in ("HP-01", "HP-05"):
        sender = StillSender(
            console_server.base_url, unit, console_server.key(unit), TestPatternStills(unit)
        )
        assert sender.send(1)
    return console_server


def test_weed_out_a_storm_tile_by_tile_and_several_at_once_by_keyboard(
    consoles: Consoles, storm: Any
) -> None:
    page = consoles.open("alice")
    expect(page.locator(".queue-row")).to_have_count(14)
    # More alarms than the queue shows: the console offers the storm view.
    expect(page.locator("#storm-hint")).to_contain_text("14 alarms waiting")
    page.keyboard.press("g")
    expect(page.locator("#storm")).to_be_visible()
    expect(page.locator("#queue-pane")).to_be_hidden()
    tiles = page.locator("#storm-grid .tile")
    expect(tiles).to_have_count(14)
    # The one where a voice was heard comes first, stands out and has the focus.
    first = tiles.first
    expect(first).to_have_attribute("data-unit", "HP-05")
    expect(first).to_have_class("tile genuine-looking focused")
    expect(first).to_be_focused()
    expect(first.locator(".voice")).to_have_text("VOICE HEARD")
    # Each tile: the latest still, unit id and name, presses, waiting time.
    still = tile(page, "HP-01").locator("img.tile-still")
    expect(still).to_be_visible()
    page.wait_for_function(
        "() => { const i = document.querySelector(\".tile[data-unit='HP-01'] img\");"
        " return i && i.complete && i.naturalWidth === 640; }"
    )
    expect(tile(page, "HP-02").locator(".tile-nostill")).to_be_visible()
    expect(tile(page, "HP-41").locator(".tile-unit-id")).to_have_text("HP-41")
    expect(tile(page, "HP-41").locator(".tile-name")).to_have_text("Guildhall Road 1")
    expect(tile(page, "HP-41").locator(".timer")).to_have_text(re.compile(r"^00:\d\d$"))
    marks = "chattering · suggested: False: malicious"
    expect(tile(page, "HP-07").locator(".tile-marks")).to_have_text(marks)
    expect(page.locator(".queue-row[data-unit='HP-07'] .triage-mark")).to_have_text(
        ["chattering", "suggested: False: malicious"]
    )

    # One key per tile: move to the next tile and close it.
    page.keyboard.press("ArrowRight")
    expect(tile(page, "HP-01")).to_be_focused()
    page.keyboard.press("f")
    expect(tile(page, "HP-01")).to_have_count(0)
    expect(tiles).to_have_count(13)
    assert incident_of(storm, "HP-01")[0].state is IncidentState.CLOSED
    expect(tile(page, "HP-02")).to_be_focused()  # the tile that took its place

    # Several at once: choose two with Space, one false reason for both.
    page.keyboard.press("Space")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")
    expect(page.locator("#storm-grid .tile.chosen")).to_have_count(2)
    page.keyboard.press("r")
    expect(page.locator("#storm-close-chosen")).to_have_text("Close 2 chosen as False: malicious")
    page.keyboard.press("f")
    expect(tiles).to_have_count(11)
    for unit in ("HP-02", "HP-03"):
        incident, actions = incident_of(storm, unit)
        assert (
            incident.classification is not None
            and incident.classification.value == "false_malicious"
        )
        assert actions.count("incident.weeded_out") == 1  # each its own audited change

    # Every tile judged silent, chosen with one key: the unjudged one and the voice stay.
    page.keyboard.press("s")
    expect(page.locator("#storm-grid .tile.chosen")).to_have_count(9)
    expect(tile(page, "HP-08")).not_to_have_class("tile chosen")
    page.keyboard.press("f")
    expect(tiles).to_have_count(2)
    assert [tiles.nth(n).get_attribute("data-unit") for n in range(2)] == ["HP-05", "HP-08"]

    # The voice tile asks first; Enter takes it to the incident panel, acknowledged.
    tile(page, "HP-05").click()
    page.keyboard.press("f")
    dialog = page.get_by_role("dialog", name="A person may be there")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(tile(page, "HP-05")).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("#storm")).to_be_hidden()
    voice_id = incident_of(storm, "HP-05")[0].id
    expect(page.locator("#incident-panel article")).to_have_attribute("data-id", str(voice_id))
    row = page.locator(".queue-row[data-unit='HP-05']")
    expect(row).to_have_attribute("aria-selected", "true")
    expect(row).to_have_attribute("data-state", "acknowledged")
    assert incident_of(storm, "HP-05")[0].acknowledged_by == "alice"


def test_a_flood_reaches_an_open_console_whole_in_batch_frames(
    consoles: Consoles, console_server: Any
) -> None:
    # 120 alarms committed together while a console is open (as the writer commits a flood's
    # presses): the feed sends what queued up in batch frames (web/feeds.py), live.js hands
    # each message on, and the page shows every alarm.
    uow = console_server.database.uow()
    with uow:
        for n in range(120):
            provision_unit(uow, f"FL-{n:03d}", f"Flood Street {n}", "town-centre", 52.236, -0.89)
        uow.commit()
    frames: list[str] = []

    def watch(page: Page) -> None:
        page.on("websocket", lambda ws: ws.on("framereceived", lambda data: frames.append(data)))

    page = consoles.open("alice", before=watch)
    now = datetime.now(UTC)
    pressed = [ReportedEvent(f"FL-{n:03d}", 1, EventType.ACTIVATION, now, {}) for n in range(120)]
    uow = console_server.app.state.uow_factory()  # the server's: the consoles hear at once
    with uow:
        handle_device_events(uow, pressed, now, timedelta(minutes=5))
        uow.commit()
    expect(page.locator("#storm-hint")).to_contain_text("120 alarms waiting")
    page.keyboard.press("g")
    expect(page.locator("#storm-grid .tile")).to_have_count(120)
    assert any(isinstance(f, str) and f.startswith('{"type":"batch"') for f in frames)
