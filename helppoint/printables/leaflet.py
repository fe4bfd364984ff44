"""The hand-out leaflet: a map of every help point and safer route, with a numbered list."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from helppoint.domain.routes import SaferRoute, lines_of
from helppoint.i18n import gettext_for
from helppoint.printables.fonts import register
from helppoint.printables.qr import draw_qr, in_language
from helppoint.printables.sign import BLUE, INK
from helppoint.services.public import PublicUnit

GREEN = HexColor("#0b7a3b")
GREY = HexColor("#6b7079")
#: Width of the list's name column; descriptions start after it.
NAME_WIDTH = 60 * mm


class Projection:
    """Longitude/latitude to page points: equirectangular, scaled by cos(latitude), fitted to a
    box with the aspect ratio kept (good enough for a town; a leaflet is not a survey map)."""

    def __init__(
        self, points: Sequence[tuple[float, float]], box: tuple[float, float, float, float]
    ) -> None:
        lons = [p[0] for p in points] or [0.0]
        lats = [p[1] for p in points] or [0.0]
        self.lon0, self.lat0 = min(lons), min(lats)
        self.kx = math.cos(math.radians((min(lats) + max(lats)) / 2))
        span_x = max((max(lons) - self.lon0) * self.kx, 1e-6)
        span_y = max(max(lats) - self.lat0, 1e-6)
        x, y, w, h = box
        self.scale = min(w / span_x, h / span_y)
        self.x = x + (w - span_x * self.scale) / 2
        self.y = y + (h - span_y * self.scale) / 2

    def __call__(self, lon: float, lat: float) -> tuple[float, float]:
        return (
            self.x + (lon - self.lon0) * self.kx * self.scale,
            self.y + (lat - self.lat0) * self.scale,
        )


def leaflet_pdf(
    units: Sequence[PublicUnit],
    routes: Sequence[SaferRoute],
    base_url: str,
    title: str | None = None,
    lang: str = "en",
    default_lang: str = "en",
) -> bytes:
    """An A4 leaflet in language `lang`: title (by default "Help points and safer routes"),
    999 line, the map, the numbered list, and a QR code to the map."""
    _ = gettext_for(lang)
    regular, bold = register()
    title = title or _("Help points and safer routes")
    base_url = base_url.rstrip("/")
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1, lang=lang)
    canvas.setTitle(title)
    canvas.setAuthor("helppoint")
    width, height = A4
    margin = 12 * mm
    canvas.setFillColor(BLUE)
    canvas.rect(0, height - 30 * mm, width, 30 * mm, stroke=0, fill=1)
    canvas.setFillColorRGB(1, 1, 1)
    canvas.setFont(bold, 22)
    canvas.drawString(margin, height - 15 * mm, title)
    canvas.setFont(bold, 14)
    canvas.drawString(margin, height - 24 * mm, _("In an emergency call 999"))
    # The map.
    box = (margin, height - 160 * mm, width - 2 * margin, 122 * mm)
    canvas.setStrokeColor(GREY)
    canvas.setLineWidth(0.8)
    canvas.rect(*box, stroke=1, fill=0)
    inner = (box[0] + 10 * mm, box[1] + 10 * mm, box[2] - 20 * mm, box[3] - 20 * mm)
    points = [(u.longitude, u.latitude) for u in units]
    for route in routes:
        for line in lines_of(route.geometry):
            points += [(p[0], p[1]) for p in line]
    project = Projection(points, inner)
    draw_routes(canvas, routes, project)
    for number, unit in enumerate(units, start=1):
        x, y = project(unit.longitude, unit.latitude)
        canvas.setFillColor(BLUE if unit.in_service else GREY)
        canvas.setStrokeColorRGB(1, 1, 1)
        canvas.setLineWidth(1.5)
        canvas.circle(x, y, 4 * mm, stroke=1, fill=1)
        canvas.setFillColorRGB(1, 1, 1)
        canvas.setFont(bold, 10)
        canvas.drawCentredString(x, y - 3.5, str(number))
    # The key and the list.
    y = box[1] - 8 * mm
    canvas.setFillColor(INK)
    canvas.setFont(regular, 10)
    canvas.setStrokeColor(GREEN)
    canvas.setLineWidth(4)
    canvas.line(margin, y + 1 * mm, margin + 10 * mm, y + 1 * mm)
    names = ", ".join(r.name for r in routes)
    canvas.drawString(margin + 13 * mm, y, _("Safer route:") + " " + names)
    y -= 8 * mm
    canvas.setFont(bold, 12)
    canvas.drawString(margin, y, _("Help points"))
    y -= 6 * mm
    for number, unit in enumerate(units, start=1):
        if y < 50 * mm:  # a long list continues overleaf
            canvas.showPage()
            canvas.setFillColor(INK)
            y = height - 20 * mm
        # A long name or description wraps in its own column instead of running into the
        # next one.
        names = simpleSplit(f"{number}. {unit.name}", bold, 10, NAME_WIDTH)
        state = _(unit.state_label).lower()
        place = unit.description + ("" if unit.in_service else f" ({state})")
        places = simpleSplit(place, regular, 9, width - 2 * margin - NAME_WIDTH - 2 * mm)
        for row in range(max(len(names), len(places), 1)):
            if row < len(names):
                canvas.setFont(bold, 10)
                canvas.drawString(margin, y, names[row])
            if row < len(places):
                canvas.setFont(regular, 9)
                canvas.drawString(margin + NAME_WIDTH + 2 * mm, y, places[row])
            y -= 4.6 * mm
        y -= 0.8 * mm
    qr_size = 32 * mm
    map_url = in_language(f"{base_url}/help-points", lang, default_lang)
    draw_qr(canvas, map_url, width - margin - qr_size, 12 * mm, qr_size)
    canvas.setFont(regular, 9)
    lines = simpleSplit(
        _("Press the button on any help point to talk to the CCTV control room, day and night.")
        + " "
        + _("Map online:"),
        regular,
        9,
        width - 2 * margin - qr_size - 4 * mm,
    )
    for row, line in enumerate(lines):
        canvas.drawString(margin, (10 + 4 * (len(lines) - row)) * mm, line)
    canvas.setFont(bold, 9)
    canvas.drawString(margin, 10 * mm, map_url)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def draw_routes(canvas: Canvas, routes: Sequence[SaferRoute], project: Projection) -> None:
    """The safer routes as green lines, on the map the projection places them on."""
    canvas.setStrokeColor(GREEN)
    canvas.setLineWidth(4)
    canvas.setLineCap(1)
    canvas.setLineJoin(1)
    for route in routes:
        for line in lines_of(route.geometry):
            path = canvas.beginPath()
            path.moveTo(*project(line[0][0], line[0][1]))
            for lon, lat in line[1:]:
                path.lineTo(*project(lon, lat))
            canvas.drawPath(path, stroke=1, fill=0)
