"""The smaller points of issue #24: day names, plural counts, the leaflet's long names and
`print leaflet --unit`."""

from __future__ import annotations

from pathlib import Path

import pypdfium2
import pytest
from reportlab.lib.units import mm

from helppoint.domain.plans import PlanInvalid
from helppoint.printables.leaflet import NAME_WIDTH, leaflet_pdf
from helppoint.services.plan_yaml import read_plan
from helppoint.services.public import PublicUnit
from tests.cli.test_cli import helppoint

PLAN = """\
plan: Night
zone: town-centre
windows:
  night:
    days: [{days}]
    from: "20:00"
    to: "04:00"
rules:
  - when: imminent_threat
    actions:
      - notify: supervisor
        channel: console
        template: "{{ref}}"
"""


@pytest.mark.parametrize("days", ["thu", "Thursday", "THU, fri", "monday, sun"])
def test_day_names_short_or_full(days: str) -> None:
    read_plan(PLAN.format(days=days))


@pytest.mark.parametrize("days", ["thur", "thu_", "thursdays", "th"])
def test_other_day_names_are_refused(days: str) -> None:
    with pytest.raises(PlanInvalid, match=f"'{days}' is not a day") as caught:
        read_plan(PLAN.format(days=days))
    assert "(1 problem):" in str(caught.value)


def _unit(n: int, name: str) -> PublicUnit:
    return PublicUnit(f"HP-{n:02d}", name, "Town", 52.23 + n / 1000, -0.89, f"Place {n}", True)


def test_long_unit_names_wrap_in_their_column_on_the_leaflet() -> None:
    long_name = "Racecourse north gate opposite the pavilion and the old grandstand"
    content = leaflet_pdf([_unit(1, long_name), _unit(2, "Gate")], [], "https://h.example", "T")
    document = pypdfium2.PdfDocument(content)
    try:
        page = document[0]
        text = page.get_textpage()
        width, height = page.get_size()
        left = 12 * mm + NAME_WIDTH  # where the descriptions start
        names = text.get_text_bounded(0, 0, left, height * 0.45)
        places = text.get_text_bounded(left, 0, width, height * 0.45)
    finally:
        document.close()
    assert "grandstand" in names and "pavilion" in names
    assert "grandstand" not in places and "Place 1" in places and "Place 2" in places


def test_print_leaflet_takes_only_the_units_asked_for(tmp_path: Path) -> None:
    db = tmp_path / "cli.sqlite"
    helppoint("zone", "add", "park", "--name", "Park", db=db)
    for n, lat in ((1, "52.24"), (2, "52.25")):
        helppoint("unit", "add", f"HP-{n}", "--name", f"Gate {n}", "--zone", "park", "--lat",
                  lat, "--lon", "-0.89", db=db)  # fmt: skip
    out = tmp_path / "leaflet.pdf"
    made = helppoint("print", "leaflet", "--unit", "HP-2", "--base-url", "https://h.example",
                     "--output", str(out), db=db)  # fmt: skip
    assert made.returncode == 0, made.stderr
    document = pypdfium2.PdfDocument(out.read_bytes())
    try:
        text = document[0].get_textpage().get_text_bounded()
    finally:
        document.close()
    assert "Gate 2" in text and "Gate 1" not in text
    missing = helppoint("print", "leaflet", "--unit", "HP-9", "--base-url", "https://h.example",
                        "--output", str(out), db=db)  # fmt: skip
    assert missing.returncode == 2 and "no help point 'HP-9'" in missing.stderr
