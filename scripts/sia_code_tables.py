#!/usr/bin/env python3
"""Write helppoint/domain/sia_code_tables.py: the SIA DC-03 and Contact ID event code tables.

The tables come whole from two libraries that carry the published tables (both MIT licence):
pysiaalarm's SIA DC-03 codes and alarmdecoder's Contact ID codes (SIA DC-05 Appendix C).
Nothing is picked by hand: every code of each table is written, as the library has it.
tests/sia/test_code_tables.py checks that the file is what this script writes.

    .venv/bin/python scripts/sia_code_tables.py   # (pip install alarmdecoder pysiaalarm)
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path

TARGET = Path(__file__).resolve().parent.parent / "helppoint" / "domain" / "sia_code_tables.py"


def q(text: str) -> str:
    """A string literal as the formatter writes it (double quotes)."""
    return json.dumps(text)  # (non-ASCII as \u escapes, which Python reads alike)


def render() -> str:
    """The module's text, from the installed libraries."""
    from alarmdecoder.messages.lrr.events import LRR_CID_MAP, LRR_DATA_TYPE
    from pysiaalarm.data.data import SIA_CODES

    lines = [
        '"""SIA DC-03 and Contact ID event code tables, as published (generated: do not edit).',
        "",
        "Written by scripts/sia_code_tables.py from the tables two libraries carry (MIT licence):",
        f"SIA DC-03 from pysiaalarm {version('pysiaalarm')} (pysiaalarm/data/sia_codes.py), "
        "Contact ID",
        f"(SIA DC-05 Appendix C) from alarmdecoder {version('alarmdecoder')} "
        "(alarmdecoder/messages/lrr/events.py).",
        "How each code is handled is decided by the rules in domain/sia_codes.py.",
        '"""',
        "",
        "#: SIA DC-03 code: (name, what its address field holds).",
        "SIA_DC03: dict[str, tuple[str, str]] = {",
    ]
    for code, entry in sorted(SIA_CODES.items()):
        lines.append(f"    {q(code)}: ({q(entry.type)}, {q(entry.concerns)}),")
    lines += [
        "}",
        "",
        '#: Contact ID event code (three digits): (description, "zone" or "user").',
        "CONTACT_ID: dict[str, tuple[str, str]] = {",
    ]
    for number, entry in sorted(LRR_CID_MAP.items()):
        kind = "user" if entry["dtype"] == LRR_DATA_TYPE.USER else "zone"
        lines.append(f"    {q(f'{number:03X}')}: ({q(entry['message'])}, {q(kind)}),")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> int:
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
