"""Public pages, signs and leaflets in every language the scheme offers (docs/i18n.md)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import httpx
import pytest

from helppoint import i18n
from helppoint.config import ConfigError, Settings
from helppoint.printables.leaflet import leaflet_pdf
from helppoint.printables.sign import sign_pdf
from helppoint.services.public import PublicUnit
from tests.conftest import http_client
from tests.public.pdf_reading import pdf_pages

ROOT = Path(__file__).resolve().parents[2]
BASE = "https://help.example.org"
#: "In an emergency call 999" and the first step of a press, as each language says them.
EMERGENCY = {
    "en": ("In an emergency call", "The blue light on top flashes"),
    "pl": ("W nagłym wypadku dzwoń pod", "Niebieskie światło na górze miga"),
    "ro": ("În caz de urgență sunați la", "Lumina albastră din vârf clipește"),
}


def _script() -> Any:
    spec = importlib.util.spec_from_file_location("i18n_script", ROOT / "scripts" / "i18n.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_catalogues_are_current_and_every_public_string_is_translated() -> None:
    # The template is what the code says now; Polish and Romanian translate every string the
    # public reads, with the same placeholders as the English.
    assert _script().problems() == []
    assert set(i18n.shipped()) >= {"en", "pl", "ro"}


def test_polish_plural_forms_come_from_the_catalogue() -> None:
    ngettext = i18n.ngettext_for("pl")
    # Three forms in Polish: the catalogue's Plural-Forms header is used.
    assert i18n.translations("pl").plural(1) == 0  # type: ignore[attr-defined]
    assert i18n.translations("pl").plural(3) == 1  # type: ignore[attr-defined]
    assert i18n.translations("pl").plural(5) == 2  # type: ignore[attr-defined]
    assert ngettext("%(n)s answer", "%(n)s answers", 1) != ""


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("pl-PL,pl;q=0.9,en;q=0.8", "pl"),
        ("de-DE,ro;q=0.5,en;q=0.4", "ro"),
        ("en-GB,en;q=0.9", "en"),
        ("de, fr;q=0.8", None),
        ("pl;q=0, ro;q=0.1", "ro"),
        ("pl;q=abc, ro", "ro"),
        (";;;,,,q=1", None),
        ("x" * 5000, None),
    ],
)
def test_accept_language(header: str, expected: str | None) -> None:
    assert i18n.from_accept_language(header, ("en", "pl", "ro")) == expected


def test_settings_refuse_a_language_without_a_catalogue() -> None:
    with pytest.raises(ConfigError, match="no catalogue for language 'xx'"):
        Settings().with_values({"public_languages": "en,xx"})
    with pytest.raises(ConfigError, match="public_default_language"):
        Settings().with_values({"public_languages": "en,pl", "public_default_language": "ro"})
    assert Settings().with_values({"public_languages": "pl,en"}).public_languages == "pl,en"


@pytest.mark.parametrize("lang", ["en", "pl", "ro"])
def test_unit_page_says_999_and_what_happens_in_each_language(live_server: Any, lang: str) -> None:
    http = httpx.Client(base_url=live_server.base_url, timeout=None)
    page = http.get("/p/HP-05", headers={"Accept-Language": f"{lang};q=1"})
    assert page.status_code == 200
    emergency, first_step = EMERGENCY[lang]
    assert f'{emergency} <a href="tel:999">999</a>' in page.text
    assert first_step in page.text
    assert f'<html lang="{"en-GB" if lang == "en" else lang}">' in page.text
    assert page.headers["content-language"] == lang
    assert "Accept-Language" in page.headers["vary"]
    assert f'href="/p/HP-05/sign.pdf?lang={lang}"' in page.text


def test_the_switch_sets_a_cookie_the_next_pages_follow(live_server: Any) -> None:
    http = httpx.Client(base_url=live_server.base_url, timeout=None)
    page = http.get("/help-points?lang=ro", headers={"Accept-Language": "pl"})
    assert "Puncte de ajutor și trasee mai sigure" in page.text
    assert page.headers["cache-control"].startswith("private")
    assert http.cookies.get("hp_lang") == "ro"
    # The switch offers every language, each named in itself, the current one marked.
    assert 'lang="pl" hreflang="pl"' in page.text and ">Polski</a>" in page.text
    assert 'aria-current="true">Română</a>' in " ".join(page.text.split())
    # The cookie wins over the browser's language from now on.
    nxt = http.get("/p/HP-01", headers={"Accept-Language": "pl"})
    assert "În caz de urgență sunați la" in nxt.text
    # A short URL written in lower case keeps the language asked for when redirected.
    moved = http.get("/p/hp-01?lang=pl", follow_redirects=False)
    assert moved.headers["location"] == "/p/HP-01?lang=pl"


@pytest.mark.parametrize("value", ["xx", "../../etc", "PL\u0000", "e" * 500, "pl,ro"])
def test_odd_languages_and_cookies_fall_back_to_english(live_server: Any, value: str) -> None:
    http = httpx.Client(base_url=live_server.base_url, timeout=None)
    page = http.get("/help-points", params={"lang": value})
    assert page.status_code == 200
    assert '<html lang="en-GB">' in page.text
    assert "hp_lang" not in page.headers.get("set-cookie", "")
    printable = value.replace("\u0000", "%00")
    odd = httpx.Client(
        base_url=live_server.base_url,
        timeout=None,
        headers={"Cookie": f"hp_lang={printable[:100]}"},
    )
    assert '<html lang="en-GB">' in odd.get("/help-points").text


def test_the_console_stays_in_english(live_server: Any) -> None:
    http = http_client(live_server.base_url, timeout=None, headers={"Accept-Language": "pl"})
    http.cookies.set("hp_lang", "pl")
    login = http.get("/login")
    assert "Control room sign-in" in login.text and '<html lang="en">' in login.text


def _unit() -> PublicUnit:
    return PublicUnit("HP-05", "Market Square", "Town", 52.23724, -0.89591, "Taxi rank", True)


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("pl", ("PUNKT POMOCY", "W nagłym wypadku dzwoń pod 999", "Naciśnij przycisk")),
        ("ro", ("PUNCT DE AJUTOR", "În caz de urgență sunați la 999", "Apăsați butonul")),
    ],
)
def test_signs_and_leaflets_print_in_the_language_with_its_letters(
    lang: str, words: tuple[str, ...]
) -> None:
    # Polish and Romanian letters are not in the PDF base fonts: the text read back from the
    # page must be the letters printed, not boxes.
    [(text, codes)] = pdf_pages(sign_pdf([_unit()], BASE, lang))
    flat = " ".join(text.split())
    for expected in words:
        assert expected in flat
    # The QR code opens the page in the sign's language: whoever read the sign reads it.
    assert codes == [f"{BASE}/p/HP-05?lang={lang}"]
    assert f"{BASE}/p/HP-05?lang={lang}" in text
    [(leaflet_text, leaflet_codes)] = pdf_pages(leaflet_pdf([_unit()], [], BASE, lang=lang))
    assert words[1] in " ".join(leaflet_text.split())
    assert leaflet_codes == [f"{BASE}/help-points?lang={lang}"]


def test_a_print_in_the_schemes_default_language_carries_the_plain_address() -> None:
    # A scheme whose default is Polish: its Polish signs keep the short URL (the reader's
    # browser chooses), its English ones open the page in English.
    [(_, codes)] = pdf_pages(sign_pdf([_unit()], BASE, "pl", default_lang="pl"))
    assert codes == [f"{BASE}/p/HP-05"]
    [(_, codes)] = pdf_pages(sign_pdf([_unit()], BASE, "en", default_lang="pl"))
    assert codes == [f"{BASE}/p/HP-05?lang=en"]
    [(_, codes)] = pdf_pages(leaflet_pdf([_unit()], [], BASE, lang="pl", default_lang="pl"))
    assert codes == [f"{BASE}/help-points"]


def test_a_sign_asked_for_in_polish_over_http(live_server: Any) -> None:
    http = httpx.Client(base_url=live_server.base_url, timeout=None)
    sign = http.get("/p/HP-05/sign.pdf?lang=pl")
    [(text, codes)] = pdf_pages(sign.content)
    assert "PUNKT POMOCY" in text
    assert codes == [f"{live_server.base_url}/p/HP-05?lang=pl"]
    # A fresh browser: the sign's ?lang=pl would otherwise have been kept in its cookie.
    fresh = httpx.Client(base_url=live_server.base_url, timeout=None)
    leaflet = fresh.get("/help-points/leaflet.pdf", headers={"Accept-Language": "ro"})
    [(text, _)] = pdf_pages(leaflet.content)
    assert "Puncte de ajutor și trasee mai sigure" in " ".join(text.split())
