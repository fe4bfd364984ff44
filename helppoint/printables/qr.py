"""QR codes drawn straight onto a reportlab canvas as vector squares."""

from __future__ import annotations

import segno
from reportlab.pdfgen.canvas import Canvas

#: Quiet zone around the symbol, in modules (the QR standard asks for four).
QUIET_ZONE = 4


def in_language(url: str, lang: str, default_lang: str) -> str:
    """The address a printable in `lang` encodes: a sign or leaflet printed in another language
    than the scheme's default opens its page in that language (`?lang=`, which the page then
    keeps in its cookie); one in the default language carries the plain address, so the
    reader's browser chooses (docs/i18n.md)."""
    if lang == default_lang:
        return url
    return f"{url}{'&' if '?' in url else '?'}lang={lang}"


def draw_qr(canvas: Canvas, data: str, x: float, y: float, size: float) -> None:
    """Draw the QR code of `data` with its lower-left corner at (x, y), `size` points square.

    The quiet zone is inside `size` and painted white, so the code reads on any background.
    """
    qr = segno.make(data, error="m")
    matrix = [list(row) for row in qr.matrix]
    modules = len(matrix) + 2 * QUIET_ZONE
    step = size / modules
    canvas.saveState()
    canvas.setFillColorRGB(1, 1, 1)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    canvas.setFillColorRGB(0, 0, 0)
    path = canvas.beginPath()
    for row_index, row in enumerate(matrix):
        top = y + size - (row_index + QUIET_ZONE) * step
        for col_index, dark in enumerate(row):
            if dark:
                path.rect(x + (col_index + QUIET_ZONE) * step, top - step, step, step)
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.restoreState()
