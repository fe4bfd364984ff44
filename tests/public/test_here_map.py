"""The printable "you are here" map for a place, with the nearest help points and a QR code
back to the live map; odd places and names refused with the reason."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from helppoint.printables.here import here_pdf, nearby
from helppoint.services.public import PublicUnit
from tests.public.pdf_reading import pdf_pages

BASE = "https://help.example.org"
UNITS = [
    PublicUnit("HP-02", "Pavilion", "Racecourse", 52.24881, -0.88803, "By the pavilion", True),
    PublicUnit("HP-05", "Market Square", "Town", 52.23724, -0.89591, "Taxi rank", False),
]


def test_nearest_first_with_distance_and_direction() -> None:
    [first, second] = nearby(52.24947, -0.88900, UNITS)
    assert first.unit.id == "HP-02" and 90 < first.metres < 110
    assert first.direction == "south-east"
    assert second.unit.id == "HP-05" and second.direction == "south"


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        (
            "en",
            (
                "YOU ARE HERE",
                "Park gate",
                "In an emergency call 999",
                "1. Pavilion: 100 m, south-east",
                "(not yet in service)",
            ),
        ),
        (
            "pl",
            (
                "TU JESTEŚ",
                "Park gate",
                "W nagłym wypadku dzwoń pod 999",
                "1. Pavilion: 100 m, południowy wschód",
            ),
        ),
    ],
)
def test_the_map_reads_right_and_its_qr_code_is_the_live_map(
    lang: str, words: tuple[str, ...]
) -> None:
    waiting = PublicUnit(
        "HP-05",
        "Market Square",
        "Town",
        52.23724,
        -0.89591,
        "Taxi rank",
        False,
        "not_yet_in_service",
    )
    units = [UNITS[0], waiting]
    [(text, codes)] = pdf_pages(here_pdf(52.24947, -0.88900, "Park gate", units, [], BASE, lang))
    flat = " ".join(text.split())
    for expected in words:
        assert expected in flat
    assert codes == [f"{BASE}/help-points" + ("" if lang == "en" else f"?lang={lang}")]


def test_over_http_and_bad_places_refused(live_server: Any) -> None:
    http = httpx.Client(base_url=live_server.base_url, timeout=None)
    good = http.get(
        "/help-points/here.pdf",
        params={"lat": "52.24947", "lon": "-0.889", "name": "Racecourse gate", "lang": "ro"},
    )
    assert good.status_code == 200 and good.headers["content-type"] == "application/pdf"
    [(text, codes)] = pdf_pages(good.content)
    assert "SUNTEȚI AICI" in text and "Racecourse gate" in text
    assert codes == [f"{live_server.base_url}/help-points?lang=ro"]
    http = httpx.Client(base_url=live_server.base_url, timeout=None)  # without ro's cookie
    for params, says in (
        ({"lat": "x", "lon": "1"}, "Give the place as a latitude and a longitude."),
        ({"lat": "91", "lon": "1"}, "Give the place as a latitude and a longitude."),
        ({"lat": "nan", "lon": "1"}, "Give the place as a latitude and a longitude."),
        ({"lon": "1"}, "Give the place as a latitude and a longitude."),
        ({"lat": "0", "lon": "0"}, "too far from every help point"),
        ({"lat": "52.25", "lon": "-0.89", "name": "x" * 61}, "too long"),
        ({"lat": "52.25", "lon": "-0.89", "name": "gate\u0007"}, "cannot be printed"),
        ({"lat": "52.25", "lon": "-0.89", "name": "gate\u202e"}, "cannot be printed"),
    ):
        refused = http.get("/help-points/here.pdf", params=params)
        assert refused.status_code == 400, params
        assert says in refused.text and 'role="alert"' in refused.text


def test_print_here_on_the_command_line(tmp_path: Any) -> None:
    from tests.cli.test_cli import helppoint

    db = tmp_path / "cli.sqlite"
    helppoint("zone", "add", "park", "--name", "Park", db=db)
    helppoint("unit", "add", "HP-1", "--name", "Gate 1", "--zone", "park", "--lat", "52.24",
              "--lon", "-0.89", db=db)  # fmt: skip
    out = tmp_path / "here.pdf"
    made = helppoint("print", "here", "--at", "52.241,-0.891", "--place", "Park gate",
                     "--lang", "pl", "--base-url", "https://h.example", "--output", str(out),
                     db=db)  # fmt: skip
    assert made.returncode == 0, made.stderr
    [(text, codes)] = pdf_pages(out.read_bytes())
    assert "TU JESTEŚ" in text and "Park gate" in text and "Gate 1" in text
    assert codes == ["https://h.example/help-points?lang=pl"]
    for at, says in (("x", "--at LAT,LON"), ("0,0", "too far from every help point")):
        refused = helppoint("print", "here", "--at", at, "--base-url", "https://h.example",
                            "--output", str(out), db=db)  # fmt: skip
        assert refused.returncode == 2 and says in refused.stderr, refused.stderr
