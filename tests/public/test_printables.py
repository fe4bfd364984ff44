"""Printed signs and the leaflet: real PDFs whose text reads right and whose QR codes decode
back to the right URLs."""

from __future__ import annotations

import pytest

from helppoint.domain.model import Role
from helppoint.domain.routes import SaferRoute
from helppoint.printables.leaflet import leaflet_pdf
from helppoint.printables.sign import sign_pdf
from helppoint.services.public import PublicUnit
from tests.conftest import http_client
from tests.public.pdf_reading import pdf_pages
from tests.public.test_public_web import ROUTE
from tests.web.test_api import client

BASE = "https://help.example.org"


def _unit(n: int, in_service: bool = True) -> PublicUnit:
    return PublicUnit(
        f"HP-{n:02d}",
        f"Unit {n}",
        "Town",
        52.23 + n / 1000,
        -0.89 - n / 1000,
        f"Place {n}",
        in_service,
    )


def test_a_sign_reads_right_and_its_qr_code_is_the_short_url() -> None:
    unit = PublicUnit(
        "HP-05", "Market Square", "Town centre", 52.23724, -0.89591, "By the taxi rank", True
    )
    [(text, codes)] = pdf_pages(sign_pdf([unit], BASE + "/"))
    assert codes == [f"{BASE}/p/HP-05"]
    for words in (
        "HELP POINT",
        "HP-05",
        "Market Square",
        "By the taxi rank",
        "In an emergency call 999",
        "Press the button to talk to the control room.",
        "blue light flashes",
        f"{BASE}/p/HP-05",
    ):
        assert words in text, words


def test_one_page_per_unit_each_with_its_own_code() -> None:
    pages = pdf_pages(sign_pdf([_unit(n) for n in range(1, 4)], BASE))
    assert [codes for _, codes in pages] == [[f"{BASE}/p/HP-0{n}"] for n in range(1, 4)]


def test_leaflet_lists_every_unit_and_route_with_a_code_to_the_map() -> None:
    from datetime import UTC, datetime

    route = SaferRoute("Racecourse lit path", ROUTE["geometry"], datetime.now(UTC), "adam")
    units = [_unit(1), _unit(2, in_service=False), _unit(3)]
    [(text, codes)] = pdf_pages(leaflet_pdf(units, [route], BASE, "Help points in Northampton"))
    assert codes == [f"{BASE}/help-points"]
    assert "Help points in Northampton" in text and "In an emergency call 999" in text
    assert "Safer route: Racecourse lit path" in text
    for number in (1, 2, 3):
        assert f"{number}. Unit {number}" in text
    assert "Place 2 (out of service)" in text


def test_a_long_leaflet_list_continues_overleaf() -> None:
    pages = pdf_pages(leaflet_pdf([_unit(n) for n in range(1, 41)], [], BASE, "Help points"))
    assert len(pages) == 2
    assert "40. Unit 40" in pages[1][0]


@pytest.mark.slow
def test_printables_over_http_point_at_this_server(live_server) -> None:  # type: ignore[no-untyped-def]
    client(live_server, "adam", Role.ADMIN).post("/api/routes", json=ROUTE)
    http = http_client(live_server.base_url, timeout=None)
    sign = http.get("/p/HP-07/sign.pdf")
    assert sign.headers["content-type"] == "application/pdf"
    [(text, codes)] = pdf_pages(sign.content)
    assert codes == [f"{live_server.base_url}/p/HP-07"] and "Gold Street" in text
    signs = pdf_pages(http.get("/help-points/signs.pdf").content)
    assert [c for _, c in signs] == [[f"{live_server.base_url}/p/HP-0{n}"] for n in range(1, 9)]
    [(text, codes)] = pdf_pages(http.get("/help-points/leaflet.pdf").content)
    assert codes == [f"{live_server.base_url}/help-points"]
    assert "8. Bridge Street" in text and "Racecourse lit path" in text
