#!/usr/bin/env python3
"""Keep the translation catalogues current (docs/i18n.md).

    scripts/i18n.py extract          # write helppoint/i18n/locale/messages.pot from the code
    scripts/i18n.py update           # extract, then merge it into every language's .po
    scripts/i18n.py init LANG        # start a catalogue for a new language
    scripts/i18n.py check            # what a test checks: template current, public strings
                                     # translated in every language, placeholders matching

Only Babel's own functions are used, as `pybabel extract/update/init` would, with the keywords
`_`, `gettext`, `ngettext` and `N_` and the mapping in babel.cfg.
"""

from __future__ import annotations

import io
import sys
from datetime import datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "helppoint" / "i18n" / "locale"
TEMPLATE = LOCALE / "messages.pot"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
#: Where the public reads: every string found in these must be translated in every language.
PUBLIC_SOURCES = (
    "helppoint/web/templates/public_",
    "helppoint/web/public",
    "helppoint/web/survey",
    "helppoint/web/open_data",
    "helppoint/printables/sign.py",
    "helppoint/printables/leaflet.py",
    "helppoint/printables/here.py",
    "helppoint/domain/units.py",
    "helppoint/domain/survey.py",
    "helppoint/services/survey.py",
    "helppoint/services/open_data.py",
)
#: A fixed date, so that a template extracted again from the same code is the same file.
FIXED_DATE = datetime(2026, 1, 1)


def extracted() -> Catalog:
    """The catalogue template as the code stands."""
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    catalog = Catalog(
        project="helppoint",
        version="",
        copyright_holder="helppoint contributors",
        msgid_bugs_address="",
        creation_date=FIXED_DATE,
        charset="utf-8",
    )
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def as_text(catalog: Catalog) -> str:
    out = io.BytesIO()
    write_po(out, catalog, width=100, sort_by_file=True, include_lineno=False)
    return out.getvalue().decode("utf-8")


def languages() -> list[str]:
    return sorted(p.parent.parent.name for p in LOCALE.glob("*/LC_MESSAGES/messages.po"))


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / "messages.po"


def read(lang: str) -> Catalog:
    with po_path(lang).open("rb") as handle:
        return read_po(handle, locale=lang)


def write(lang: str, catalog: Catalog) -> None:
    out = io.BytesIO()
    write_po(out, catalog, width=100, sort_by_file=True, include_lineno=False)
    po_path(lang).write_bytes(out.getvalue())


def is_public(locations: list[tuple[str, int | None]]) -> bool:
    return any(path.startswith(PUBLIC_SOURCES) for path, _ in locations)


def problems() -> list[str]:
    """What is wrong with the catalogues: an out-of-date template, a public string missing
    or fuzzy in a language, placeholders that differ from the English."""
    found: list[str] = []
    template = extracted()
    if not TEMPLATE.exists() or TEMPLATE.read_text(encoding="utf-8") != as_text(template):
        found.append("messages.pot is not what the code says: run scripts/i18n.py update")
    for lang in languages():
        catalog = read(lang)
        for message in template:
            if not message.id or not is_public(message.locations):
                continue
            translated = catalog.get(message.id, message.context)
            if translated is None or not translated.string or translated.fuzzy:
                found.append(f"{lang}: not translated: {message.id!r}")
            elif isinstance(translated.string, tuple) and not all(translated.string):
                found.append(f"{lang}: a plural form is missing: {message.id!r}")
        for message, errors in catalog.check():
            for error in errors:
                found.append(f"{lang}: {message.id!r}: {error}")
    return found


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    if command == "extract":
        TEMPLATE.write_text(as_text(extracted()), encoding="utf-8")
    elif command == "update":
        template = extracted()
        TEMPLATE.write_text(as_text(template), encoding="utf-8")
        for lang in languages():
            catalog = read(lang)
            # No fuzzy matching: its guesses join unrelated strings ("Tamper" got the
            # translation of "Type"); a translator's own tool offers better ones.
            catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
            catalog.obsolete.clear()
            write(lang, catalog)
    elif command == "init" and len(argv) == 3:
        lang = argv[2]
        if po_path(lang).exists():
            print(f"{po_path(lang)} exists already", file=sys.stderr)
            return 1
        catalog = Catalog(locale=lang, project="helppoint", creation_date=FIXED_DATE)
        catalog.update(extracted())
        po_path(lang).parent.mkdir(parents=True, exist_ok=True)
        write(lang, catalog)
    elif command == "check":
        found = problems()
        for line in found:
            print(line)
        return 1 if found else 0
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
