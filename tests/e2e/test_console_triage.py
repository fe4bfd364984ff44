"""Weeding out false activations in the console: one key, another reason, a confirm where a
person may be there, and Enter that always goes to the queue."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from helppoint.domain.classification import Classification
from helppoint.domain.model import IncidentState
from helppoint.domain.triage import Judgement, Voice
from helppoint.services.triage import record_voice
from helppoint.store import tables as t
from helppoint.store.repositories import IncidentFilter

from .harness import Consoles, FeedGate, record_event

pytestmark = pytest.mark.browser


def queue_row(page: Page, unit_id: str) -> Any:
    return page.locator(f".queue-row[data-unit='{unit_id}']")


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
    """The unit's only incident and its audit entries."""
    with server.database.uow() as uow:
        [incident], _ = uow.incidents.search(IncidentFilter(unit_id=unit_id))
        return incident, list(uow.audit.for_incident(incident.id))


def test_one_key_weeds_out_the_selected_alarm_and_selects_the_next(
    consoles: Consoles, console_server: Any
) -> None:
    now = datetime.now(UTC)
    record_event(console_server, "HP-01", 1, now - timedelta(seconds=20))
    record_event(console_server, "HP-02", 1, now - timedelta(seconds=10))
    record_event(console_server, "HP-03", 1, now - timedelta(seconds=5))
    page = consoles.open("alice")
    expect(queue_row(page, "HP-01")).to_have_attribute("aria-selected", "true")
    button = page.locator("#weed-out-button")
    expect(button).to_contain_text("Close as False: accidental")

    page.keyboard.press("f")  # one action: acknowledged, classified false and closed
    expect(queue_row(page, "HP-01")).to_have_count(0)
    expect(queue_row(page, "HP-02")).to_have_attribute("aria-selected", "true")
    incident, entries = incident_of(console_server, "HP-01")
    assert incident.state is IncidentState.CLOSED
    assert incident.classification is Classification.FALSE_ACCIDENTAL
    assert incident.acknowledged_by == incident.closed_by == "alice"
    # One change by the operator (the SLA worker may have noted the wait, under load).
    assert [e.action for e in entries if e.actor == "alice"] == ["incident.weeded_out"]

    page.keyboard.press("r")  # another false reason, kept for the next ones
    expect(button).to_contain_text("Close as False: malicious")
    page.keyboard.press("f")
    expect(queue_row(page, "HP-02")).to_have_count(0)
    assert incident_of(console_server, "HP-02")[0].classification is Classification.FALSE_MALICIOUS

    button.click()  # the button does what the key does
    expect(page.locator("#queue")).to_contain_text("No open alarms")
    assert incident_of(console_server, "HP-03")[0].classification is Classification.FALSE_MALICIOUS
    # One line that counts up, not a message per alarm.
    expect(page.locator(".toast")).to_have_count(1)
    expect(page.locator(".toast")).to_contain_text("3 weeded out so far")


def test_a_voice_heard_needs_an_explicit_confirm(consoles: Consoles, console_server: Any) -> None:
    record_event(console_server, "HP-04", 1, datetime.now(UTC))
    judge(console_server, "HP-04", Voice.VOICE, 0.42)
    page = consoles.open("alice")
    expect(page.locator("#incident-voice")).to_have_text("Voice heard 42%")
    row = queue_row(page, "HP-04")

    page.keyboard.press("f")
    dialog = page.get_by_role("dialog", name="A person may be there")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("HP-04")
    expect(dialog.get_by_role("button", name="Keep open and look")).to_be_focused()
    page.keyboard.press("Enter")  # the safe choice
    expect(dialog).to_be_hidden()
    expect(row).to_have_attribute("data-state", "new")
    assert [e for e in incident_of(console_server, "HP-04")[1] if e.actor == "alice"] == []

    page.keyboard.press("f")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")  # Esc keeps it open too
    expect(dialog).to_be_hidden()
    expect(row).to_have_attribute("data-state", "new")

    page.keyboard.press("f")
    # As a person would: Tab once the dialog is there (a Tab before it opened moved the focus
    # elsewhere in the page and the dialog then focused its safe choice).
    expect(dialog.get_by_role("button", name="Keep open and look")).to_be_focused()
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Close as false anyway")).to_be_focused()
    page.keyboard.press("Enter")
    try:
        expect(row).to_have_count(0)
    except AssertionError as failure:
        # Failed once in a loaded whole-suite run (6 December, load ~3): a late close event of
        # the dialog answered the last question (the test below). Should it fail again, say
        # what the server stored and what the page showed.
        stored, audit = incident_of(console_server, "HP-04")
        raise AssertionError(
            f"{failure}\nserver: {stored.state} {stored.classification} "
            f"{[(e.actor, e.action) for e in audit]}\n"
            f"rows' state: {row.evaluate_all('rows => rows.map(r => r.dataset.state)')}; "
            f"dialog open: {dialog.is_visible()}; "
            f"toasts: {page.locator('.toast').all_inner_texts()}; "
            f"page errors: {consoles.errors}"
        ) from None
    incident, entries = incident_of(console_server, "HP-04")
    assert incident.state is IncidentState.CLOSED
    assert entries[-1].action == "incident.weeded_out"
    assert entries[-1].detail["confirmed"] is True and entries[-1].detail["voice"] == "voice"


def test_a_confirm_asked_again_before_the_last_one_closed_is_not_answered_for_the_operator(
    consoles: Consoles, console_server: Any
) -> None:
    # A dialog's close event is queued as a task: after "Keep open and look" (or Esc), an f
    # handled before that task ran (the browser puts input first, as it did on a loaded machine)
    # opened the dialog again, and the late close event answered the new question "no" while it
    # was still on the screen; "Close as false anyway" then did nothing and the row stayed.
    record_event(console_server, "HP-04", 1, datetime.now(UTC))
    judge(console_server, "HP-04", Voice.VOICE, 0.42)
    page = consoles.open("alice")
    expect(page.locator("#incident-voice")).to_have_text("Voice heard 42%")
    row = queue_row(page, "HP-04")
    page.keyboard.press("f")
    dialog = page.get_by_role("dialog", name="A person may be there")
    expect(dialog.get_by_role("button", name="Keep open and look")).to_be_focused()

    # "Keep open and look", then f, in one task: nothing else can run between them.
    page.evaluate(
        """() => {
          document.querySelector("#weed-confirm [value=cancel]").click();
          document.dispatchEvent(new KeyboardEvent("keydown", { key: "f", bubbles: true }));
        }"""
    )
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Keep open and look")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Close as false anyway
    expect(row).to_have_count(0)
    assert incident_of(console_server, "HP-04")[0].state is IncidentState.CLOSED


def test_news_from_before_a_close_does_not_bring_the_alarm_back(
    consoles: Consoles, console_server: Any
) -> None:
    # The answer to a close and the feed's pushes travel apart: a push committed before the
    # close can reach the console after the answer. A closed incident never reopens, so such
    # news must not put the alarm back in the queue (it did: a closed alarm came back as new).
    record_event(console_server, "HP-06", 1, datetime.now(UTC))
    gates: list[FeedGate] = []
    page = consoles.open("alice", before=lambda p: gates.append(FeedGate(p)))
    [gate] = gates
    row = queue_row(page, "HP-06")
    expect(row).to_have_attribute("aria-selected", "true")
    incident_id = int(row.get_attribute("data-id") or 0)

    gate.hold()
    # Through the server's own unit of work, so the change is pushed as the audio path's is.
    uow = console_server.app.state.uow_factory()
    stale = record_voice(uow, incident_id, Judgement(Voice.SILENT, 0.01))
    assert stale is not None and stale["state"] == "new"

    def held_judgement() -> str | bytes | None:
        for message in gate.held:
            pushed = json.loads(message)
            if pushed["type"] == "incident" and pushed["incident"]["id"] == incident_id:
                return message
        return None

    for _ in range(500):  # the judgement's push is on its way to the gate: wait until held
        if held_judgement() is not None:
            break
        page.wait_for_timeout(20)
    late = held_judgement()
    assert late is not None and json.loads(late)["incident"]["voice"] == "silent"
    page.keyboard.press("f")  # silent: closed at once
    expect(row).to_have_count(0)
    assert incident_of(console_server, "HP-06")[0].state is IncidentState.CLOSED

    # Deliver only the late judgement, then a later alarm: once that one shows, the late news
    # has been handled.
    assert gate.route is not None
    gate.drop_held()
    gate.route.send(late)
    record_event(console_server, "HP-07", 1, datetime.now(UTC), pushed=True)
    expect(queue_row(page, "HP-07")).to_be_visible()
    expect(row).to_have_count(0)


def test_enter_acts_on_the_queue_after_a_header_button_was_clicked(
    consoles: Consoles, console_server: Any
) -> None:
    record_event(console_server, "HP-05", 1, datetime.now(UTC))
    page = consoles.open("alice")
    row = queue_row(page, "HP-05")
    expect(row).to_have_attribute("aria-selected", "true")
    toggle = page.locator("#sound-toggle")
    toggle.click()  # "Enable sound"
    expect(toggle).to_have_attribute("data-state", "on")
    expect(toggle).not_to_be_focused()
    page.keyboard.press("Enter")
    expect(row).to_have_attribute("data-state", "acknowledged")
    expect(toggle).to_have_attribute("data-state", "on")  # not "Sound muted"
    page.locator("#shortcuts-button").click()
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts-button")).not_to_be_focused()
