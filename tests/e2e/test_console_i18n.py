"""The console's scripts take their strings from the catalogue the page carries (docs/i18n.md).

The console is drawn in English for now, so the page is given a Polish catalogue here on its
way to the browser: what a translated console would show."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .harness import Consoles

pytestmark = pytest.mark.browser

POLISH_PLURAL = "n == 1 ? 0 : n % 10 >= 2 && n % 10 <= 4 && (n % 100 < 12 || n % 100 > 14) ? 1 : 2"
FAKE_POLISH = {
    "lang": "pl",
    "plural": POLISH_PLURAL,
    "messages": {
        "No open alarms.": "Brak otwartych alarmów.",
        "none open": "żaden otwarty",
        "Dismiss message": "Zamknij komunikat",
        "No alarm is waiting for anyone.": "Żaden alarm na nikogo nie czeka.",
        "%(num)s alarm waiting": [
            "%(num)s alarm czeka",
            "%(num)s alarmy czekają",
            "%(num)s alarmów czeka",
        ],
    },
}
#: Put in place of the page's own catalogue as the page is parsed, before its scripts run
#: (they are modules, run once the whole page is read).
SWAP = """
new MutationObserver((changes, observer) => {
  const block = document.getElementById("i18n-catalogue");
  if (!block || !block.nextSibling) return;
  block.textContent = JSON.stringify(%s);
  window.swappedCatalogue = true;
  observer.disconnect();
}).observe(document, { childList: true, subtree: true });
"""


def open_with_catalogue(consoles: Consoles, username: str, catalogue: dict[str, Any]) -> Page:
    """A signed-in console whose page carries `catalogue` instead of the server's."""
    page = consoles.open(
        username, before=lambda page: page.add_init_script(SWAP % json.dumps(catalogue))
    )
    assert page.evaluate("window.swappedCatalogue") is True
    return page


def test_console_scripts_show_the_strings_of_the_catalogue_the_page_carries(
    consoles: Consoles,
) -> None:
    page = open_with_catalogue(consoles, "pola", FAKE_POLISH)
    expect(page.locator("#queue")).to_contain_text("Brak otwartych alarmów.")
    expect(page.locator("#queue-count")).to_have_text("żaden otwarty")
    # A string the catalogue does not translate stays English.
    expect(page.locator("#link-status")).to_have_text("Live")
    expect(page).to_have_title("Console · helppoint")

    page.keyboard.press("w")  # take next, with nothing waiting: a toast says so
    toast = page.locator(".toast").last
    expect(toast).to_contain_text("Żaden alarm na nikogo nie czeka.")
    expect(toast.locator("button")).to_have_attribute("aria-label", "Zamknij komunikat")

    looked_up = page.evaluate(
        """() => import("/static/i18n.js").then((m) => ({
            lang: m.language(),
            forms: [1, 2, 5, 22, 112].map((n) => m.ngettext(
                "%(num)s alarm waiting", "%(num)s alarms waiting", n)),
            missing: m._("Unit %(id)s", { id: "HP-01" }),
        }))"""
    )
    assert looked_up == {
        "lang": "pl",
        "forms": [
            "1 alarm czeka",
            "2 alarmy czekają",
            "5 alarmów czeka",
            "22 alarmy czekają",
            "112 alarmów czeka",
        ],
        "missing": "Unit HP-01",
    }


def test_a_console_without_a_catalogue_or_with_a_broken_one_shows_english(
    consoles: Consoles,
) -> None:
    page = open_with_catalogue(consoles, "edna", {"lang": "pl", "plural": "n ++ ?"})
    expect(page.locator("#queue")).to_contain_text("No open alarms.")
    forms = page.evaluate(
        """() => import("/static/i18n.js").then((m) => [1, 2].map((n) =>
            m.ngettext("%(num)s alarm waiting", "%(num)s alarms waiting", n)))"""
    )
    assert forms == ["1 alarm waiting", "2 alarms waiting"]
