"""A genuine activation classified as an imminent threat and escalated: the police view (a
second browser session) shows it live and acknowledges with its reference, and the operator's
incident shows the acknowledgement and the reference at once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from helppoint.agent.stills import StillSender, TestPatternStills
from helppoint.domain.model import Role
from helppoint.services.plans import import_plan
from tests.notify.receivers import HttpReceiver

from .harness import PASSWORD, Consoles

pytestmark = pytest.mark.browser

PLAN = """\
plan: Town centre night-time economy
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
        template: "Imminent threat at {{unit_name}} ({{ref}}), URN {{police_urn}}"
        ack_within: 120
      - notify: ambulance
        channel: phone
        to: "999"
        template: "Ambulance to {{unit_name}}"
"""


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    started = HttpReceiver().start()
    yield started
    started.stop()


def test_police_see_acknowledge_and_the_operator_sees_it(
    consoles: Consoles, units: Any, console_server: Any, receiver: HttpReceiver
) -> None:
    import_plan(console_server.database.uow(), PLAN.format(url=receiver.url), "admin")
    console_server.add_operator("pc-smith", PASSWORD, Role.POLICE)
    police = consoles.new_page()
    consoles.sign_in(police, "pc-smith")
    police.wait_for_url(f"{console_server.base_url}/police")
    expect(police.locator("#police-link")).to_have_text("Live")
    expect(police.locator("#police-summary")).to_have_text("No incidents escalated to you.")

    page = consoles.open("alice")
    unit = units("HP-06")
    unit.press()
    row = page.locator(".queue-row[data-unit='HP-06']")
    expect(row).to_be_visible()
    # The unit's camera still of this activation, sent as the agent sends it.
    sender = StillSender(
        console_server.base_url, "HP-06", console_server.key("HP-06"), TestPatternStills("HP-06")
    )
    assert sender.send(unit.seq)
    page.keyboard.press("a")
    expect(row).to_have_attribute("data-state", "acknowledged")
    # The light flashes from the activation; the operator stops it and the unit confirms.
    light = page.locator("#light-state")
    expect(light).to_have_text("Light: flashing (since the activation)")
    page.get_by_role("button", name="Stop flashing").click()
    expect(light).to_contain_text("Light: off (confirmed by the unit")
    page.locator("#camera-preset-select").select_option("home")
    page.get_by_role("button", name="Move camera").click()
    expect(page.locator("#message-select option")).to_have_count(3)
    # The unit's confirmation is on the incident's timeline.
    expect(page.locator("#timeline")).to_contain_text("command confirmed: camera_preset")
    sent = [(c["command"], c["args"]) for c in unit.commands]
    assert sent[:2] == [("flash_light", {"on": False}), ("camera_preset", {"preset": "home"})]
    checklist = page.locator("#checklist")
    expect(checklist).to_contain_text("Choose a classification")
    page.locator("#classification").select_option("imminent_threat")
    # The plan's actions for the chosen classification, before it is even saved.
    expect(checklist.locator("li[data-notify='police']")).to_contain_text("Webhook (EIDO)")
    expect(checklist.locator("li[data-notify='ambulance']")).to_contain_text("telephone 999")
    expect(page.locator("#plan-summary")).to_contain_text("Police URN NP-2026-0042 · phone 101")
    page.get_by_role("button", name="Classify").click()
    expect(row).to_have_attribute("data-state", "assessed")
    page.get_by_role("button", name="Escalate under the trigger plan").click()
    expect(row).to_have_attribute("data-state", "escalated")
    expect(page.locator("#police-response")).to_contain_text("waiting…")

    card = police.locator(".police-incident")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Imminent threat")
    expect(card).to_contain_text("Abington Street (HP-06)")
    expect(card).to_contain_text("52.23820, -0.89212")
    # The incident on the map, and the camera still loaded (decoded at its real size).
    expect(police.locator("path.police-marker[data-unit='HP-06']")).to_have_count(1)
    expect(police.locator(".leaflet-tooltip")).to_contain_text("Abington Street")
    still = card.locator("figure.still img")
    expect(still).to_have_attribute("alt", re.compile(r"Camera still from help point HP-06"))
    still_loaded = "img => img.complete && img.naturalWidth === 640 && img.naturalHeight === 360"
    police_still = "document.querySelector('.police-incident figure.still img')"
    police.wait_for_function(f"() => {police_still} && ({still_loaded})({police_still})")
    # The operator's incident shows the same still.
    console_still = page.locator("#incident-still img")
    expect(console_still).to_be_visible()
    page.wait_for_function(f"() => ({still_loaded})(document.querySelector('#incident-still img'))")
    page.locator("#note-text").fill("Caller says a man is following her")
    page.get_by_role("button", name="Add note").click()
    expect(card).to_contain_text("Caller says a man is following her")  # live to the police
    card.get_by_label("Log / CAD reference").fill("NP-20261125-0421")
    card.get_by_role("button", name="Acknowledge").click()
    expect(card).to_contain_text("Your reference")
    expect(card.get_by_role("button", name="Acknowledge")).to_have_count(0)

    response = page.locator("#police-response")
    expect(response.locator("dd[data-fact='Police reference']")).to_have_text("NP-20261125-0421")
    expect(response.locator("dd[data-fact='Police acknowledged']")).to_contain_text("by pc-smith")
    page.get_by_role("button", name="Police on scene").click()
    expect(response.locator("dd[data-fact='On scene']")).not_to_have_text("not yet")
    expect(card).to_contain_text("On scene")
