"""A calm console under load: few messages, one tone at a time, readable rows and map, and the
police acknowledgement heard and seen."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from helppoint.domain.model import Role
from helppoint.services.plans import import_plan
from helppoint.services.units import provision_unit
from tests.conftest import http_client
from tests.notify.receivers import HttpReceiver

from .harness import (
    AUDIO_PROBE,
    FEED_PROBE,
    PASSWORD,
    UNREACHABLE_TILES,
    Consoles,
    SimulatedUnit,
    csrf_headers,
    record_event,
    tone_overlaps,
)

pytestmark = pytest.mark.browser

DEMO_UNITS = [f"HP-0{n}" for n in range(1, 9)]


def queue_row(page: Page, unit_id: str) -> Any:
    return page.locator(f".queue-row[data-unit='{unit_id}']")


def box(page: Page, selector: str) -> dict[str, float]:
    found = page.locator(selector).bounding_box()
    assert found is not None, selector
    return found


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def inside(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] >= b["x"]
        and a["y"] >= b["y"]
        and a["x"] + a["width"] <= b["x"] + b["width"]
        and a["y"] + a["height"] <= b["y"] + b["height"]
    )


def provision(server: Any, unit_id: str, name: str, lat: float, lon: float) -> None:
    uow = server.database.uow()
    with uow:
        server.units.append(provision_unit(uow, unit_id, name, "town-centre", lat, lon))
        uow.commit()


def test_at_most_three_messages_and_a_repeated_one_updates_in_place(consoles: Consoles) -> None:
    page = consoles.open("alice")
    page.evaluate(
        """async () => {
            const { toast } = await import("/static/toast.js");
            toast("could not do one", "error", "Error");
            for (let n = 1; n <= 5; n++) toast(`message ${n}`, "info");
            for (let n = 1; n <= 4; n++) {
                toast(`${n} weeded out so far`, "success", null, { key: "count" });
            }
        }"""
    )
    toasts = page.locator(".toast")
    expect(toasts).to_have_count(3)
    # The error stayed (messages give way first); the keyed line says the latest count once.
    expect(toasts.filter(has_text="could not do one")).to_have_count(1)
    expect(toasts.filter(has_text="weeded out so far")).to_have_count(1)
    expect(toasts.locator(".toast-text").filter(has_text="so far")).to_have_text(
        "4 weeded out so far"
    )
    header = box(page, ".site-header")
    for n in range(3):
        assert not overlap(box(page, f".toast >> nth={n}"), header)


def test_a_storm_is_one_waiting_line_not_a_message_per_alarm(
    browser: Browser, server_factory: Any
) -> None:
    # Every alarm passes the answer-time limit after a second: the server alerts each one.
    server = server_factory(map_tiles_url=UNREACHABLE_TILES, supervision=False, sla_ack_seconds=1)
    consoles = Consoles(browser, server)
    simulated = [SimulatedUnit(server, unit).connect() for unit in DEMO_UNITS]
    try:
        page = consoles.open("alice", before=lambda p: p.add_init_script(FEED_PROBE))
        for unit in simulated:
            unit.press()
        line = page.locator("#waiting-line")
        expect(line).to_contain_text("8 alarms waiting · oldest 00:")
        expect(line).to_have_class("waiting-line level-1")  # several waiting: more urgent
        # The console says it in its one line and its tone, not with eight messages.
        page.wait_for_function("() => (window.__feed.sla_alert || 0) >= 8")
        expect(page.locator(".toast")).to_have_count(0)
        page.keyboard.press("f")
        expect(line).to_contain_text("7 alarms waiting")
        expect(page.locator(".toast")).to_have_count(1)
    finally:
        for unit in simulated:
            unit.stop()
        consoles.close()
    assert not consoles.errors


def test_one_alarm_tone_at_a_time_whose_urgency_rises(
    consoles: Consoles, console_server: Any
) -> None:
    page = consoles.open("alice", before=lambda p: p.add_init_script(AUDIO_PROBE))
    page.get_by_role("button", name="Enable sound").first.click()
    expect(page.locator("#sound-toggle")).to_have_attribute("data-state", "on")
    simulated = [SimulatedUnit(console_server, unit).connect() for unit in DEMO_UNITS]
    try:
        for unit in simulated:  # eight alarms as fast as the units can send them
            unit.press()
        expect(page.locator(".queue-row")).to_have_count(8)
        expect(page.locator("body")).to_have_attribute("data-urgency", "1")
        # The tone has started again after the first pattern: the repeat is scheduled too.
        page.wait_for_function("() => window.__tones.length >= 12")
        assert tone_overlaps(page) == 0
        page.keyboard.press("m")  # muted: what was playing or scheduled stops at once
        expect(page.locator("#sound-toggle")).to_have_attribute("data-state", "muted")
        assert page.evaluate(
            "() => window.__tones.every(t => t.stop <= window.__audio.currentTime + 0.05)"
        )
    finally:
        for unit in simulated:
            unit.stop()


def test_queue_rows_show_the_unit_id_and_its_whole_name(
    consoles: Consoles, console_server: Any
) -> None:
    names = {
        "HP-71": "Abington Street (north side, by the bus shelter opposite the library)",
        "HP-72": "Abington Street (south side, by the bus shelter opposite the library)",
    }
    for n, (unit, name) in enumerate(names.items(), start=1):
        provision(console_server, unit, name, 52.2379, -0.8921 + n / 1000)
        record_event(console_server, unit, 1, datetime.now(UTC))
    page = consoles.open("alice")
    for unit, name in names.items():
        row = queue_row(page, unit)
        expect(row.locator(".unit")).to_have_text(name)
        expect(row.locator(".unit-id")).to_have_text(unit)
        # Shown whole: nothing cut off, no ellipsis, no tooltip needed.
        assert row.locator(".unit").evaluate(
            "el => el.scrollWidth <= el.clientWidth && el.scrollHeight <= el.clientHeight"
            " && getComputedStyle(el).textOverflow !== 'ellipsis'"
        )
        assert unit in (row.get_attribute("aria-label") or "")


def test_the_map_clusters_alarms_labels_the_selected_one_and_shows_every_alarm(
    consoles: Consoles, console_server: Any
) -> None:
    # Four units a few metres apart, and one 40 km away that is pressed first (selected).
    for n in range(4):
        provision(
            console_server, f"HP-8{n}", f"Bus station stand {n}", 52.2400, -0.9000 + n * 0.0001
        )
    provision(console_server, "HP-90", "Wellingborough station", 52.3030, -0.6790)
    now = datetime.now(UTC)
    record_event(console_server, "HP-90", 1, now - timedelta(seconds=9))
    for n in range(4):
        record_event(console_server, f"HP-8{n}", 1, now - timedelta(seconds=8 - n))
    page = consoles.open("alice")
    expect(queue_row(page, "HP-90")).to_have_attribute("aria-selected", "true")

    cluster = page.locator("#map .alarm-cluster")
    expect(cluster).to_have_count(1)
    expect(cluster).to_have_attribute("data-count", "4")
    expect(cluster).to_have_text("4")
    # Only the selected unit has a label on the map; the others show theirs on hover.
    labels = page.locator("#map .leaflet-tooltip")
    expect(labels).to_have_count(1)
    expect(labels).to_contain_text("Wellingborough station")
    # Every alarm is in view, and the note about the missing background is not over the map.
    map_box = box(page, "#map")
    assert inside(box(page, "#map .alarm-cluster"), map_box)
    assert inside(box(page, "#map path[data-unit='HP-90']"), map_box)
    expect(page.locator("#map-note")).to_contain_text("tiles cannot be loaded")
    assert not overlap(box(page, "#map-note"), map_box)

    cluster.click()  # zooms in until the alarms come apart
    expect(cluster).to_have_count(0)
    expect(page.locator("#map path[data-unit='HP-81']")).to_be_visible()

    # Zoomed in on the bus station, an alarm far off the edge comes into view by itself.
    provision(console_server, "HP-91", "Kettering station", 52.3930, -0.7320)
    far = SimulatedUnit(console_server, "HP-91").connect()
    try:
        far.press()
        marker = page.locator("#map path[data-unit='HP-91']")
        expect(marker).to_have_attribute("data-status", "alarm")
        page.wait_for_function(
            """() => {
                const box = (s) => document.querySelector(s).getBoundingClientRect();
                const m = box("#map");
                const p = box("#map path[data-unit='HP-91']");
                return p.left >= m.left && p.right <= m.right
                    && p.top >= m.top && p.bottom <= m.bottom;
            }"""
        )
    finally:
        far.stop()


PLAN = """\
plan: Town centre
zone: town-centre
police:
  urn: NP-2026-0042
  phone: "101"
rules:
  - when: imminent_threat
    actions:
      - notify: police
        channel: webhook
        to: {url}/cad
        template: "Imminent threat at {{unit_name}} ({{ref}})"
        ack_within: 120
"""


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    started = HttpReceiver().start()
    yield started
    started.stop()


def test_the_police_acknowledgement_chimes_and_shows_under_the_title(
    consoles: Consoles, console_server: Any, receiver: HttpReceiver
) -> None:
    import_plan(console_server.database.uow(), PLAN.format(url=receiver.url), "admin")
    record_event(console_server, "HP-06", 1, datetime.now(UTC))
    page = consoles.open("alice", before=lambda p: p.add_init_script(AUDIO_PROBE))
    page.get_by_role("button", name="Enable sound").first.click()
    row = queue_row(page, "HP-06")
    incident_id = int(row.get_attribute("data-id") or 0)
    api = f"{console_server.base_url}/api/incidents/{incident_id}"
    for path, body in (
        ("acknowledge", None),
        ("classify", {"classification": "imminent_threat"}),
        ("escalate", None),
    ):
        answer = page.request.post(f"{api}/{path}", data=body, headers=csrf_headers(page))
        assert answer.ok, answer.text()
    expect(row).to_have_attribute("data-state", "escalated")
    # The operator reads further down the panel; the title stays in view.
    page.locator("#incident-panel").evaluate("el => el.scrollTo(0, el.scrollHeight)")
    tones_before = page.evaluate("() => window.__tones.length")

    console_server.add_operator("pc-smith", PASSWORD, Role.POLICE)
    police: httpx.Client = http_client(console_server.base_url, timeout=None)
    assert police.post("/api/login", json={"username": "pc-smith", "password": PASSWORD}).is_success
    acknowledged = police.post(
        f"/api/police/incidents/{incident_id}/acknowledge", json={"reference": "CAD-0421"}
    )
    assert acknowledged.is_success, acknowledged.text

    notice = page.locator("#police-notice")
    expect(notice).to_contain_text("Police acknowledged at")
    expect(notice).to_contain_text("by pc-smith, reference CAD-0421")
    expect(notice).to_be_in_viewport()
    expect(page.locator("#incident-title")).to_be_in_viewport()
    page.wait_for_function(
        f"() => window.__tones.slice({tones_before}).some(t => t.frequency === 660)"
    )
    assert tone_overlaps(page) == 0


def test_answer_time_targets_are_labelled_as_the_schemes_own(
    consoles: Consoles, console_server: Any
) -> None:
    # Targets come from the server (one home), labelled as the scheme's, not as a standard's.
    page = consoles.open("sam", role=Role.SUPERVISOR)
    config = page.evaluate("() => JSON.parse(document.getElementById('console-config').text)")
    assert config["answer_targets"] == [
        {"seconds": 30, "share": 0.8},
        {"seconds": 60, "share": 0.985},
    ]
    page.goto(f"{console_server.base_url}/supervisor")
    title = page.locator("#sla-title")
    expect(title).to_contain_text("the scheme's targets: 80% within 30 s, 98.5% within 60 s")
    expect(page.locator("#share-30 .label")).to_have_text("within 30 s (scheme's target 80%)")
    expect(page.locator("#share-60 .label")).to_have_text("within 60 s (scheme's target 98.5%)")
    expect(page.locator("body")).not_to_contain_text("EN 50518")


SILENCED_THEN_CHIME = """
async () => {
  const { AlarmSound } = await import("/static/sound.js");
  const button = document.createElement("button");
  document.body.append(button);
  const sound = new AlarmSound(button, null);
  sound.unlock();
  if (sound.context.state !== "running") {
    await new Promise((resolve) => sound.context.addEventListener("statechange", resolve));
  }
  window.__tones.length = 0;
  sound.setAlerting(true, 0);  // an alarm: the pattern is scheduled
  sound.setAlerting(false);  // acknowledged at once: what was scheduled is silenced
  sound.chime();  // and a chime straight after (the police acknowledged)
  return window.__tones.map((t) => ({ ...t }));
}
"""


def test_notes_silenced_before_they_sounded_are_not_counted_as_overlapping(
    consoles: Consoles,
) -> None:
    page = consoles.open("alice", before=lambda p: p.add_init_script(AUDIO_PROBE))
    page.get_by_role("button", name="Enable sound").first.click()  # the page's user gesture
    tones = page.evaluate(SILENCED_THEN_CHIME)
    never_sounded = [t for t in tones if t["stop"] <= t["start"]]
    assert never_sounded, "the alarm's later notes were silenced before they started"
    chime = [t for t in tones if t["frequency"] == 660]
    assert len(chime) == 1 and chime[0]["start"] < max(t["start"] for t in never_sounded)
    assert tone_overlaps(page) == 0
