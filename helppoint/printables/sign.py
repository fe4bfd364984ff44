"""The sign on a help point: name, what to do, "in an emergency call 999", and a QR code."""

from __future__ import annotations

import io
from collections.abc import Sequence

from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from helppoint.i18n import N_, gettext_for
from helppoint.printables.fonts import register
from helppoint.printables.qr import draw_qr, in_language
from helppoint.services.public import PublicUnit

BLUE = HexColor("#0b4fa8")
INK = HexColor("#1b1f24")
#: The words on every sign, in the order people need them.
INSTRUCTIONS = (
    N_("Press the button to talk to the control room."),
    N_("The blue light flashes and the camera turns to you, so the operator can see you."),
    N_("Speak normally towards the help point. The operator can send police or an ambulance."),
    N_("Pressed it by mistake? Stay and say so."),
)


def sign_pdf(
    units: Sequence[PublicUnit], base_url: str, lang: str = "en", default_lang: str = "en"
) -> bytes:
    """One A4 page per unit, in language `lang`; the QR code holds the unit's short URL
    (base_url + /p/ID, with ?lang= when `lang` is not the scheme's `default_lang`)."""
    _ = gettext_for(lang)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1, lang=lang)
    if len(units) == 1:
        canvas.setTitle(_("Help point %(id)s") % {"id": units[0].id})
    else:
        canvas.setTitle(_("Help point signs"))
    canvas.setAuthor("helppoint")
    for unit in units:
        url = in_language(f"{base_url.rstrip('/')}/p/{unit.id}", lang, default_lang)
        _draw_sign(canvas, unit, url, lang)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _draw_sign(canvas: Canvas, unit: PublicUnit, url: str, lang: str) -> None:
    _ = gettext_for(lang)
    regular, bold = register()
    width, height = A4
    margin = 15 * mm
    # Header band.
    canvas.setFillColor(BLUE)
    canvas.rect(0, height - 45 * mm, width, 45 * mm, stroke=0, fill=1)
    canvas.setFillColorRGB(1, 1, 1)
    canvas.setFont(bold, 44)
    canvas.drawString(margin, height - 25 * mm, _("HELP POINT"))
    canvas.setFont(regular, 20)
    canvas.drawString(margin, height - 37 * mm, unit.id)
    # Name and place.
    canvas.setFillColor(INK)
    y = height - 62 * mm
    canvas.setFont(bold, 26)
    for line in simpleSplit(unit.name, bold, 26, width - 2 * margin):
        canvas.drawString(margin, y, line)
        y -= 10 * mm
    canvas.setFont(regular, 13)
    for line in simpleSplit(unit.description, regular, 13, width - 2 * margin):
        canvas.drawString(margin, y, line)
        y -= 6 * mm
    # Emergency box.
    y -= 6 * mm
    canvas.setStrokeColor(BLUE)
    canvas.setLineWidth(3)
    canvas.rect(margin, y - 18 * mm, width - 2 * margin, 22 * mm, stroke=1, fill=0)
    canvas.setFont(bold, 24)
    canvas.drawCentredString(width / 2, y - 10 * mm, _("In an emergency call 999"))
    y -= 30 * mm
    # Instructions.
    canvas.setFont(regular, 15)
    for number, text in enumerate(INSTRUCTIONS, start=1):
        lines = simpleSplit(f"{number}. {_(text)}", regular, 15, width - 2 * margin)
        for line in lines:
            canvas.drawString(margin, y, line)
            y -= 7 * mm
        y -= 2 * mm
    # QR code and its URL at the foot.
    size = 60 * mm
    draw_qr(canvas, url, (width - size) / 2, 28 * mm, size)
    canvas.setFont(regular, 12)
    canvas.drawCentredString(width / 2, 22 * mm, _("Scan for this help point's page:"))
    canvas.setFont(bold, 12)
    canvas.drawCentredString(width / 2, 16 * mm, url)
