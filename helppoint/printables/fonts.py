"""A font for printables in every shipped language.

The PDF base fonts (Helvetica) cover only Western European letters: Polish ą ł ż and Romanian
ș ț would print as black boxes. DejaVu Sans covers them; it comes with matplotlib (already a
dependency, for the report's charts), so nothing is downloaded or committed. Embedded as a
subset: only the letters used.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import matplotlib
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

REGULAR = "HelppointSans"
BOLD = "HelppointSans-Bold"


@cache
def register() -> tuple[str, str]:
    """Registers the fonts with reportlab once; returns the (regular, bold) font names."""
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont(REGULAR, str(folder / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(folder / "DejaVuSans-Bold.ttf")))
    return REGULAR, BOLD
