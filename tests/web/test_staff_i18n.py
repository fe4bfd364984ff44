"""The console's and staff pages' strings go through the catalogues (docs/i18n.md): templates
with `_()`, scripts with static/i18n.js, the page carrying its scripts' translations."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from helppoint import i18n
from helppoint.domain.model import Role
from helppoint.web.rendering import templates

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
#: One string a staff reads, per file that shows it: each must be in the extracted template
#: with that file as its source. A file whose strings are put back into plain English loses
#: its sample and fails here.
SAMPLES = {
    "helppoint/web/static/call.js": "Could not connect the call",
    "helppoint/web/static/admin-routes.js": "None yet: draw the first one on the map.",
    "helppoint/web/static/audit.js": "Could not load the audit trail.",
    "helppoint/web/static/cameras.js": "No cameras are linked to this help point.",
    "helppoint/web/static/console.js": "No alarm is waiting for anyone.",
    "helppoint/web/static/escalation.js": "No trigger plan for this unit or its zone.",
    "helppoint/web/static/evaluation.js": "Nothing imported yet.",
    "helppoint/web/static/format.js": "SLA target missed",
    "helppoint/web/static/health.js": "Could not load the health board.",
    "helppoint/web/static/history.js": "Choose an incident in the table to see its full record.",
    "helppoint/web/static/holders.js": "No open alarms: nobody holds anything.",
    "helppoint/web/static/incident-panel.js": "Not claimed yet: press A or Enter",
    "helppoint/web/static/map.js": "No map background configured. Unit positions are shown.",
    "helppoint/web/static/plans.js": "No plans yet: start from the example.",
    "helppoint/web/static/media-admin.js": "built in (spoken by the unit)",
    "helppoint/web/static/police.js": "No incidents escalated to you.",
    "helppoint/web/static/queue.js": "No open alarms.",
    "helppoint/web/static/reports.js": "Hover or focus a cell for its count.",
    "helppoint/web/static/shortcuts.js": "Hang up the call",
    "helppoint/web/static/sla.js": "No alarms accepted in this period yet.",
    "helppoint/web/static/sound.js": "Click to allow the alarm sound",
    "helppoint/web/static/storm.js": "No camera still yet",
    "helppoint/web/static/toast.js": "Dismiss message",
    "helppoint/web/static/triage-supervisor.js": "No unit is on test.",
    "helppoint/web/static/triage.js": "Could not close the selected alarms",
    "helppoint/web/static/unit-config.js": "Fill in at least one setting to change",
    "helppoint/web/templates/admin_users.html": "Set role of %(username)s",
    "helppoint/web/templates/admin_overview.html": "Signs for every unit (PDF, A4, QR codes)",
    "helppoint/web/templates/console.html": "Demo: press a help point",
    "helppoint/web/templates/police.html": "Police view · helppoint",
    "helppoint/web/templates/reports.html": "Scheme report",
    "helppoint/web/templates/supervisor.html": "Last 12 hours",
    "helppoint/web/admin_pages.py": "Notification channels",
}
TEMPLATES = ROOT / "helppoint" / "web" / "templates"


def _script() -> Any:
    spec = importlib.util.spec_from_file_location("i18n_script", ROOT / "scripts" / "i18n.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_template_holds_strings_of_every_staff_script_and_page() -> None:
    extracted = _script().extracted()
    for path, sample in SAMPLES.items():
        message = extracted.get(sample)
        assert message is not None, f"{sample!r} ({path}) is not in the catalogue template"
        assert path in [location for location, _ in message.locations], (sample, path)
    # Every staff page has its strings in the catalogue (public pages are checked, string by
    # string, by tests/public/test_i18n.py).
    located = {path for message in extracted for path, _ in message.locations}
    for template in sorted(TEMPLATES.glob("*.html")):
        path = str(template.relative_to(ROOT))
        assert path in located, f"{path} has no string in the catalogue"
    # The committed template is the extracted one (the public test checks the whole file).
    pot = (i18n.LOCALE_DIR / "messages.pot").read_text(encoding="utf-8")
    for path, sample in SAMPLES.items():
        assert f"#: {path}" in pot and f'msgid "{sample}"' in pot


@pytest.fixture
def fake_polish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The shipped catalogues with the Polish one translating a few staff strings (fuzzy
    or for a public page too, to check which are handed to scripts)."""
    locale = tmp_path / "locale"
    shutil.copytree(i18n.LOCALE_DIR, locale)
    po = locale / "pl" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as handle:
        catalog: Catalog = read_po(handle, locale="pl")
    catalog["No open alarms."].string = "Brak otwartych alarmów."
    catalog["Held: %(holders)s"].string = "Przy: %(holders)s"
    catalog["none open"].string = "żaden otwarty"
    catalog["none open"].flags.add("fuzzy")
    catalog["%(num)s alarm waiting"].string = (
        "%(num)s alarm czeka",
        "%(num)s alarmy czekają",
        "%(num)s alarmów czeka",
    )
    with po.open("wb") as handle:
        write_po(handle, catalog)
    monkeypatch.setattr(i18n, "LOCALE_DIR", locale)
    i18n.translations.cache_clear()
    i18n.script_catalogue.cache_clear()
    yield locale
    i18n.translations.cache_clear()
    i18n.script_catalogue.cache_clear()


def test_a_page_hands_its_scripts_their_translated_strings_and_nothing_else(
    fake_polish: Path,
) -> None:
    polish = i18n.script_catalogue("pl")
    assert polish["lang"] == "pl"
    assert "n % 10 >= 2" in str(polish["plural"])  # Polish's own plural rule
    messages = polish["messages"]
    assert isinstance(messages, dict)
    assert messages["No open alarms."] == "Brak otwartych alarmów."
    assert messages["Held: %(holders)s"] == "Przy: %(holders)s"
    assert messages["%(num)s alarm waiting"] == [
        "%(num)s alarm czeka",
        "%(num)s alarmy czekają",
        "%(num)s alarmów czeka",
    ]
    # A fuzzy translation is not shown; untranslated strings are left to the English.
    assert "none open" not in messages and "Dismiss message" not in messages
    # Public pages' strings are translated in Polish, but no script shows them.
    public = "In an emergency call 999"
    assert i18n.gettext_for("pl")(public) == "W nagłym wypadku dzwoń pod 999"
    assert public not in messages
    # English (the console's language for now) and an unknown language hand over nothing.
    assert i18n.script_catalogue("en") == {"lang": "en", "plural": "(n != 1)", "messages": {}}
    assert i18n.script_catalogue("xx")["messages"] == {}


def test_a_template_in_a_language_carries_that_language_for_its_scripts(
    fake_polish: Path,
) -> None:
    block = templates.env.from_string("{{ script_catalogue()|tojson }}")
    assert json.loads(block.render(lang="pl"))["messages"]["No open alarms."] == (
        "Brak otwartych alarmów."
    )
    assert json.loads(block.render())["messages"] == {}


def signed_in(server: Any, username: str, role: Role) -> httpx.Client:
    server.add_operator(username, PASSWORD, role)
    http = httpx.Client(base_url=server.base_url, timeout=None)
    assert http.post("/api/login", json={"username": username, "password": PASSWORD}).is_success
    return http


def test_the_console_carries_an_english_catalogue_for_its_scripts(live_server: Any) -> None:
    # Staff pages are drawn in English whatever the browser asks for: their scripts get
    # no translations, and show their English source strings.
    http = signed_in(live_server, "olga", Role.OPERATOR)
    try:
        page = http.get("/", headers={"Accept-Language": "pl"}).text
    finally:
        http.close()
    found = re.search(
        r'<script type="application/json" id="i18n-catalogue">(.*?)</script>', page, re.S
    )
    assert found is not None
    assert json.loads(found.group(1)) == {"lang": "en", "plural": "(n != 1)", "messages": {}}
    assert '<html lang="en">' in page


def test_template_strings_have_no_bare_percent_sign() -> None:
    # New-style gettext always %-formats a template's string, so "95% intervals" would fail
    # to render ("% i" is read as a format): a % in the text is written %%.
    for message in _script().extracted():
        sources = [path for path, _ in message.locations if path.endswith(".html")]
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        for text in ids:
            if sources and "%" in re.sub(r"%\(\w+\)s|%%", "", text):
                raise AssertionError(f"{sources[0]}: write % as %% in {text!r}")
