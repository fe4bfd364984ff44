"""Translations of what the public reads: gettext catalogues kept with Babel (docs/i18n.md).

`locale/LANG/LC_MESSAGES/messages.po` holds each language's catalogue, `locale/messages.pot`
the template extracted from the code (scripts/i18n). The catalogues are compiled in memory when
first used, so no compiled `.mo` file is committed or can go stale. English is the source
language: its "translation" is the message itself.

Public pages, signs and leaflets are translated. The console's strings go through the same
catalogues (`_()` in its templates and in its scripts, helppoint/web/static/*.js) but it is
always drawn in English for now. A page hands its scripts their strings in its language with
`script_catalogue(lang)` (static/i18n.js looks them up).
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

#: Where the catalogues are.
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
#: The language the code is written in.
SOURCE_LANGUAGE = "en"
#: Each language's name in itself, for the language switch; English first.
NAMES: dict[str, str] = {
    "en": "English",
    "pl": "Polski",
    "ro": "Română",
}


def N_(message: str) -> str:
    """Marks a string for extraction where it is defined; it is translated where shown."""
    return message


def shipped() -> tuple[str, ...]:
    """English and every language with a catalogue, English first."""
    found = sorted(
        path.parent.parent.name for path in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")
    )
    return (SOURCE_LANGUAGE, *(lang for lang in found if lang != SOURCE_LANGUAGE))


#: Where the scripts are whose strings `script_catalogue` hands to a page, as the catalogue
#: names them (the source references of each message).
SCRIPTS_LOCATION = "helppoint/web/static/"
#: English's plural rule, gettext's default.
SOURCE_PLURAL = "(n != 1)"


def _catalog(lang: str) -> Catalog:
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as handle:
        return read_po(handle, locale=lang, domain=DOMAIN)


@lru_cache(maxsize=16)
def translations(lang: str) -> gettext.NullTranslations:
    """The translations of one shipped language (English and unknown: the messages as they
    are). Fuzzy or empty entries fall back to English."""
    if lang == SOURCE_LANGUAGE or lang not in shipped():
        return gettext.NullTranslations()
    catalog = _catalog(lang)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


@lru_cache(maxsize=16)
def script_catalogue(lang: str) -> dict[str, object]:
    """What a page gives its scripts (static/i18n.js) for one language: the plural rule and
    the translations of the strings found in the scripts, `{msgid: text}` or, for a plural,
    `{singular: [form, ...]}`. Untranslated, empty or fuzzy strings are left out (the script
    shows the English); English and an unknown language have none."""
    messages: dict[str, str | list[str]] = {}
    if lang == SOURCE_LANGUAGE or lang not in shipped():
        return {"lang": SOURCE_LANGUAGE, "plural": SOURCE_PLURAL, "messages": messages}
    catalog = _catalog(lang)
    for message in catalog:
        if not message.id or message.fuzzy or message.context:
            continue
        if not any(path.startswith(SCRIPTS_LOCATION) for path, _ in message.locations):
            continue
        if isinstance(message.id, str):
            if isinstance(message.string, str) and message.string:
                messages[message.id] = message.string
        else:
            forms = list(message.string) if isinstance(message.string, tuple) else []
            if forms and all(forms):
                messages[str(message.id[0])] = forms
    return {"lang": lang, "plural": catalog.plural_expr, "messages": messages}


def gettext_for(lang: str) -> Callable[[str], str]:
    """The `_` of one language."""
    return translations(lang).gettext


def ngettext_for(lang: str) -> Callable[[str, str, int], str]:
    """The plural `ngettext` of one language (Polish has three forms)."""
    return translations(lang).ngettext


def parse_languages(text: str) -> tuple[str, ...]:
    """A comma-separated list of language codes ("en,pl,ro"), each one shipped; ValueError
    names one that is not."""
    langs = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    available = shipped()
    for lang in langs:
        if lang not in available:
            raise ValueError(f"no catalogue for language {lang!r}; shipped: {', '.join(available)}")
    if not langs:
        raise ValueError("name at least one language")
    return langs


def from_accept_language(header: str, offered: Iterable[str]) -> str | None:
    """The best of `offered` for an Accept-Language header ("pl-PL,pl;q=0.9,en;q=0.8"), or
    None. A malformed part is skipped; a region falls back to its language (pl-PL → pl)."""
    offered = tuple(offered)
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate(header[:1000].split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        if not tag or quality <= 0 or not 0 <= quality <= 1:
            continue
        lang = tag.split("-")[0]
        if lang in offered:
            choices.append((-quality, index, lang))
    return min(choices)[2] if choices else None
