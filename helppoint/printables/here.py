"""A printable "you are here" map for a place (a park entrance, a gate, a station exit): the
place, the help points and safer routes around it, the nearest help points with how far and
which way, "in an emergency call 999", and a QR code back to the live map."""

from __future__ import annotations

import io
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from helppoint.domain.places import check_on_earth, distance_km
from helppoint.domain.routes import SaferRoute
from helppoint.i18n import N_, gettext_for
from helppoint.printables.fonts import register
from helppoint.printables.leaflet import GREY, Projection, draw_routes
from helppoint.printables.qr import draw_qr, in_language
from helppoint.printables.sign import BLUE, INK
from helppoint.services.public import PublicUnit

YELLOW = HexColor("#ffbf47")
#: Help points drawn and listed: the nearest ones, and any others this close (km).
LISTED = 5
AROUND_KM = 1.2
#: The longest place name printed.
MAX_NAME = 60
COMPASS = (
    N_("north"),
    N_("north-east"),
    N_("east"),
    N_("south-east"),
    N_("south"),
    N_("south-west"),
    N_("west"),
    N_("north-west"),
)


def refusal(
    latitude: float, longitude: float, name: str, units: Sequence[PublicUnit], max_km: float
) -> str | None:
    """Why a "you are here" map cannot be made for this place (a message id), or None: not a
    place on Earth, further than `max_km` from every help point, a name too long or with
    characters that cannot be printed (control or format characters)."""
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        return N_("Give the place as a latitude and a longitude.")
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return N_("Give the place as a latitude and a longitude.")
    if len(name) > MAX_NAME:
        return N_("The name of the place is too long (60 characters at most).")
    if any(unicodedata.category(c).startswith("C") for c in name):
        return N_("The name of the place has characters that cannot be printed.")
    here = (latitude, longitude)
    if units and min(distance_km(here, (u.latitude, u.longitude)) for u in units) > max_km:
        return N_("That place is too far from every help point of the scheme.")
    return None


@dataclass(frozen=True)
class Nearby:
    unit: PublicUnit
    metres: float
    direction: str  # a COMPASS message id


def bearing(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Compass bearing in degrees from (lat, lon) a to b."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    y = math.sin(lon2 - lon1) * math.cos(lat2)
    x = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(lon2 - lon1)
    return (math.degrees(math.atan2(y, x)) + 360) % 360


def nearby(latitude: float, longitude: float, units: Sequence[PublicUnit]) -> list[Nearby]:
    """The help points nearest the place, nearest first."""
    here = (latitude, longitude)
    found = []
    for unit in units:
        there = (unit.latitude, unit.longitude)
        direction = COMPASS[round(bearing(here, there) / 45) % 8]
        found.append(Nearby(unit, distance_km(here, there) * 1000, direction))
    return sorted(found, key=lambda n: n.metres)


def here_pdf(
    latitude: float,
    longitude: float,
    place: str,
    units: Sequence[PublicUnit],
    routes: Sequence[SaferRoute],
    base_url: str,
    lang: str = "en",
    default_lang: str = "en",
) -> bytes:
    """One A4 page: the map around the place with "you are here", the nearest help points, and
    a QR code to the live map (base_url + /help-points)."""
    check_on_earth(latitude, longitude)
    _ = gettext_for(lang)
    regular, bold = register()
    base_url = base_url.rstrip("/")
    near = nearby(latitude, longitude, units)
    shown = [n for i, n in enumerate(near) if i < LISTED or n.metres <= AROUND_KM * 1000]
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1, lang=lang)
    title = _("You are here")
    canvas.setTitle(f"{title}: {place}" if place else title)
    canvas.setAuthor("helppoint")
    width, height = A4
    margin = 12 * mm
    canvas.setFillColor(BLUE)
    canvas.rect(0, height - 34 * mm, width, 34 * mm, stroke=0, fill=1)
    canvas.setFillColorRGB(1, 1, 1)
    canvas.setFont(bold, 26)
    canvas.drawString(margin, height - 16 * mm, title.upper())
    canvas.setFont(regular, 15)
    if place:
        canvas.drawString(margin, height - 27 * mm, simpleSplit(place, regular, 15, width)[0])
    canvas.setFillColor(INK)
    canvas.setFont(bold, 18)
    canvas.drawCentredString(width / 2, height - 45 * mm, _("In an emergency call 999"))
    # The map: the place and the help points shown, with the routes clipped to the box.
    box = (margin, height - 175 * mm, width - 2 * margin, 122 * mm)
    canvas.setStrokeColor(GREY)
    canvas.setLineWidth(0.8)
    canvas.rect(*box, stroke=1, fill=0)
    inner = (box[0] + 10 * mm, box[1] + 10 * mm, box[2] - 20 * mm, box[3] - 20 * mm)
    points = [(longitude, latitude)] + [(n.unit.longitude, n.unit.latitude) for n in shown]
    project = Projection(points, inner)
    canvas.saveState()
    clip = canvas.beginPath()
    clip.rect(*box)
    canvas.clipPath(clip, stroke=0, fill=0)
    draw_routes(canvas, routes, project)
    for number, item in enumerate(shown, start=1):
        x, y = project(item.unit.longitude, item.unit.latitude)
        canvas.setFillColor(BLUE if item.unit.in_service else GREY)
        canvas.setStrokeColorRGB(1, 1, 1)
        canvas.setLineWidth(1.5)
        canvas.circle(x, y, 4 * mm, stroke=1, fill=1)
        canvas.setFillColorRGB(1, 1, 1)
        canvas.setFont(bold, 10)
        canvas.drawCentredString(x, y - 3.5, str(number))
    x, y = project(longitude, latitude)
    canvas.setFillColor(YELLOW)
    canvas.setStrokeColor(INK)
    canvas.setLineWidth(2)
    canvas.circle(x, y, 5 * mm, stroke=1, fill=1)
    canvas.setFillColor(INK)
    canvas.setFont(bold, 12)
    canvas.drawString(x + 7 * mm, y - 4, title)
    canvas.restoreState()
    # The nearest help points.
    y = box[1] - 9 * mm
    canvas.setFillColor(INK)
    canvas.setFont(bold, 13)
    canvas.drawString(margin, y, _("Nearest help points"))
    y -= 7 * mm
    qr_size = 38 * mm
    for number, item in enumerate(shown[:LISTED], start=1):
        distance = (
            f"{round(item.metres / 10) * 10:,.0f} m"
            if item.metres < 1000
            else (f"{item.metres / 1000:.1f} km")
        )
        entry = f"{number}. {item.unit.name}: {distance}, {_(item.direction)}"
        if not item.unit.in_service:
            entry += f" ({_(item.unit.state_label).lower()})"
        canvas.setFont(regular, 11)
        for part in simpleSplit(entry, regular, 11, width - 3 * margin - qr_size):
            canvas.drawString(margin, y, part)
            y -= 5.5 * mm
    map_url = in_language(f"{base_url}/help-points", lang, default_lang)
    draw_qr(canvas, map_url, width - margin - qr_size, 12 * mm, qr_size)
    canvas.setFont(regular, 10)
    lines = simpleSplit(
        _("Scan for the live map, and the nearest help point from where you stand:"),
        regular,
        10,
        width - 3 * margin - qr_size,
    )
    for row, text in enumerate(lines):
        canvas.drawString(margin, (20 + 5 * (len(lines) - row)) * mm, text)
    canvas.setFont(bold, 11)
    canvas.drawString(margin, 18 * mm, map_url)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
