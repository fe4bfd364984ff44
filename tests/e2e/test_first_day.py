"""docs/first-day.md, played in a real browser on an empty database: every step through the
pages only (step 0, the first administrator, as `helppoint user add` does it), ending with
every unit in service. Prints the pages and actions it took (recorded in the doc)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect

from helppoint.config import Settings
from helppoint.domain.model import Role
from helppoint.services.operators import add_operator
from tests.conftest import Database
from tests.threaded_server import bound_socket, port_of, start_in_thread, stop_thread

from .axe import serious_violations
from .harness import UNREACHABLE_TILES, VIEWPORT, SimulatedUnit

pytestmark = pytest.mark.browser

DOC = Path(__file__).parents[2] / "docs" / "first-day.md"
PASSWORD = "correct horse battery"
ZONES = [("town-centre", "Town centre"), ("racecourse", "Racecourse path")]
UNITS = [
    ("HP-01", "Market Square", "town-centre", "52.2372", "-0.8959"),
    ("HP-02", "Abington Street", "town-centre", "52.2389", "-0.8921"),
    ("HP-03", "Racecourse north", "racecourse", "52.2494", "-0.8895"),
]
USERS = [("olive", "operator"), ("sue", "supervisor"), ("pc-jones", "police")]


def doc_steps() -> list[str]:
    """The step titles of docs/first-day.md after step 0, in order."""
    return re.findall(r"^## (?:[1-9]\d*)\. (.+)$", DOC.read_text(), flags=re.MULTILINE)


class EmptyServer:
    """A server on an empty (migrated) database: no demo units, no users."""

    def __init__(self, database: Database, **settings: Any) -> None:
        self.database = database
        self._socket = bound_socket()  # the server's from now (tests/threaded_server.py)
        self.port = port_of(self._socket)
        self.keys: dict[str, str] = {}
        config = Settings().with_values(
            {"database_url": database.url, "port": self.port, **settings}
        )
        from helppoint.web.app import create_app

        self.app = create_app(config, database.engine)
        self._server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def device_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/device/v1"

    def key(self, unit_id: str) -> str:
        return self.keys[unit_id]

    def __enter__(self) -> EmptyServer:
        self._thread = start_in_thread(self._server, self._socket)
        return self

    def __exit__(self, *exc: object) -> None:
        stop_thread(self._server, self._thread)


class Day:
    """The browser session of the administrator, counting pages loaded and actions taken."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.pages = 0
        self.actions = 0
        self.steps: list[str] = []
        page.on("load", lambda _: self._loaded())

    def _loaded(self) -> None:
        self.pages += 1

    def step(self, title: str) -> None:
        self.steps.append(title)

    def menu(self, name: str) -> None:
        """Follow a link of the admin menu; from a page without it (trigger plans), the
        header's Admin link first."""
        admin_menu = self.page.get_by_role("navigation", name="Administration")
        if not admin_menu.count():
            self.actions += 1
            self.page.get_by_role("link", name="Admin", exact=True).click()
        self.actions += 1
        admin_menu.get_by_role("link", name=name, exact=True).click()
        expect(self.page.locator("h1")).to_be_visible()

    def fill(self, label: str, value: str) -> None:
        self.actions += 1
        self.page.get_by_label(label, exact=True).fill(value)

    def select(self, label: str, value: str) -> None:
        self.actions += 1
        self.page.get_by_label(label, exact=True).select_option(value)

    def click(self, name: str) -> None:
        self.actions += 1
        self.page.get_by_role("button", name=name, exact=True).click()

    def check(self, label: str) -> None:
        self.actions += 1
        self.page.get_by_label(label).check()


def sign_in(browser: Browser, server: EmptyServer, username: str, errors: list[str]) -> Day:
    """Another user's browser, signed in (enrolling two-factor when the role requires it)."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    day = Day(page, server.base_url)
    page.goto(server.base_url)
    day.fill("Username", username)
    day.fill("Password", PASSWORD)
    day.click("Sign in")
    page.wait_for_load_state()
    if "/login/2fa" in page.url:  # step 2 made two-factor sign-in required for the role
        secret = page.locator("#totp-secret").inner_text()
        day.fill("Code", pyotp.TOTP(secret).now())
        day.click("Turn on and sign in")
        day.actions += 1
        page.get_by_role("link", name="I have saved them: continue").click()
    return day


def commission(
    browser: Browser, server: EmptyServer, day: Day, unit: SimulatedUnit, errors: list[str]
) -> list[Day]:
    """Step 11 for one unit: the admin starts the test, the unit is pressed, the operator and
    the police user take it along the path, and the checklist shows every step passed."""
    page = day.page
    day.menu("Units")
    day.actions += 1
    page.get_by_role("link", name=unit.unit_id, exact=True).click()
    day.actions += 1
    page.get_by_role("link", name="Commissioning test").click()
    day.click(f"Start a commissioning test of {unit.unit_id}")
    expect(page.locator("#admin-message")).to_contain_text("Press its button now")
    operator = sign_in(browser, server, "olive", errors)
    police = sign_in(browser, server, "pc-jones", errors)
    unit.press()
    console = operator.page
    row = console.locator(f".queue-row[data-unit='{unit.unit_id}']")
    expect(row).to_contain_text("on test")
    operator.actions += 1
    console.keyboard.press("a")
    expect(row).to_have_attribute("data-state", "acknowledged")
    operator.select("Classification", "imminent_threat")
    operator.click("Classify")
    operator.click("Escalate under the trigger plan")
    card = police.page.locator(".police-incident")
    expect(card).to_contain_text("TEST, NO ACTION NEEDED")
    police.actions += 1
    card.get_by_label("Log / CAD reference").fill("NP-TEST-0001")
    police.actions += 1
    card.get_by_role("button", name="Acknowledge").click()
    expect(card.get_by_role("button", name="Acknowledge")).to_have_count(0)
    expect(console.locator("#police-response")).to_contain_text("NP-TEST-0001")
    operator.fill("Outcome and close", "Commissioning test")
    operator.actions += 2
    console.keyboard.press("Escape")
    console.keyboard.press("x")
    expect(row).to_have_count(0)
    day.actions += 1
    page.get_by_role("link", name="Refresh").click()
    expect(page.locator("#commissioning-result")).to_have_text("Passed: every step worked.")
    expect(page.locator("#commissioning-steps li[data-passed='yes']")).to_have_count(6)
    assert serious_violations(page) == []
    for other in (operator, police):
        other.page.context.close()
    return [operator, police]


@pytest.fixture
def empty_server(
    sqlite_database: Database, smtp_receiver: Any, http_receiver: Any
) -> Iterator[EmptyServer]:
    # Supervision off: the simulated units do not heartbeat, and a loaded test machine must
    # not see them reported down between step 10 and step 11.
    with EmptyServer(
        sqlite_database,
        map_tiles_url=UNREACHABLE_TILES,
        supervision=False,
        smtp_host="127.0.0.1",
        smtp_port=smtp_receiver.port,
        scheme_area="52.15,-1.0,52.32,-0.75",
        public_url="https://help.example.org",
    ) as server:
        yield server


def test_the_first_day_from_an_empty_database(
    browser: Browser, empty_server: EmptyServer, http_receiver: Any, smtp_receiver: Any
) -> None:
    server = empty_server
    # 0. The first administrator, as `helppoint user add alice --role admin` makes it.
    add_operator(server.database.uow(), "alice", PASSWORD, Role.ADMIN)
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    day = Day(page, server.base_url)

    day.step("Sign in")
    page.goto(server.base_url)
    day.fill("Username", "alice")
    day.fill("Password", PASSWORD)
    day.click("Sign in")
    day.actions += 1
    page.get_by_role("link", name="Admin", exact=True).click()
    expect(page.locator("#count-units")).to_have_text("0")

    day.step("Require two-factor sign-in")
    day.menu("Users")
    for role in ("supervisor", "police"):
        day.actions += 1
        page.locator(f"input[name='require'][value='{role}']").check()
    day.click("Save two-factor policy")
    expect(page.locator("#admin-message")).to_have_text(
        "Two-factor sign-in is now required for: supervisor, police."
    )

    day.step("Add the zones")
    day.menu("Zones")
    expect(page.locator("#zones-table")).to_contain_text("No zones yet")
    for zone_id, name in ZONES:
        day.fill("Zone id (letters, digits, - _ .)", zone_id)
        day.fill("Name", name)
        day.click("Add zone")
        expect(page.locator("#admin-message")).to_have_text(f"Zone {zone_id} ({name}) added.")

    day.step("Add the units")
    day.menu("Units")
    for index, (unit_id, name, zone, lat, lon) in enumerate(UNITS):
        day.fill("Unit id (as on its sign, e.g. HP-01)", unit_id)
        day.fill("Name (where it is, e.g. Market Square)", name)
        day.select("Zone", zone)
        # The first unit is typed with latitude and longitude swapped, as happens.
        day.fill("Latitude (WGS84, e.g. 52.2372)", lon if index == 0 else lat)
        day.fill("Longitude (WGS84, e.g. -0.8959)", lat if index == 0 else lon)
        day.fill("Description (shown to the public)", f"By {name}")
        day.click("Add unit")
        if index == 0:
            expect(page.locator("#admin-error")).to_contain_text("look swapped")
            day.fill("Latitude (WGS84, e.g. 52.2372)", lat)
            day.fill("Longitude (WGS84, e.g. -0.8959)", lon)
            day.click("Add unit")
        expect(page.get_by_role("heading", name=f"Unit {unit_id} added")).to_be_visible()
        server.keys[unit_id] = page.get_by_label(f"Key of {unit_id}").input_value()
        day.actions += 1
        page.get_by_role("link", name="Back to the units").click()
    rows = page.locator("#units-table tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#units-table")).to_contain_text("Not yet in service")

    day.step("Activate the trigger plans")
    day.menu("Trigger plans")
    day.click("New from example")
    editor = page.get_by_label("Plan file", exact=True)
    expect(editor).to_have_value(re.compile("zone: town-centre"))
    day.actions += 1
    editor.fill(
        editor.input_value().replace("https://cad.police.example/helppoint", http_receiver.url)
    )
    day.click("Check")
    expect(page.locator("#plan-result")).to_have_class("valid")
    day.click("Save and activate")
    expect(page.locator("#plans-summary")).to_have_text("1 active")

    day.step("Add the maintainers")
    day.menu("Maintainers")
    day.fill("Name", "Ace Street Furniture")
    day.fill("Email address or webhook URL", "faults@ace.example")
    day.click("Add maintainer")
    expect(page.locator("#admin-message")).to_have_text("Maintainer Ace Street Furniture added.")

    day.step("Test the notification channels")
    day.menu("Notification channels")
    expect(page.locator("#channels-table tbody tr")).to_have_count(3)
    for target in (http_receiver.url, "faults@ace.example", "security@bid.example"):
        day.click(f"Send a test message to {target}")
        expect(page.locator("#admin-message")).to_contain_text(target)
    assert smtp_receiver.seen[""] == 2  # both test emails arrived (they carry no outbox key)

    day.step("Add the control-room users")
    day.menu("Users")
    for username, role in USERS:
        day.fill("Username", username)
        day.select("Role", role)
        day.fill("Password (at least 8 characters)", PASSWORD)
        day.click("Add user")
        expect(page.locator("#admin-message")).to_have_text(f"User {username} ({role}) added.")

    day.step("Schedule the self-tests")
    day.menu("Self-tests")
    for zone_id, _ in ZONES:
        day.select("For", f"zone:{zone_id}")
        day.click("Save schedule")
        expect(page.locator("#admin-message")).to_contain_text(f"zone {zone_id}: daily at 03:00")

    day.step("Switch the units on")
    units = [SimulatedUnit(server, unit_id).connect() for unit_id, *_ in UNITS]
    try:
        day.menu("Units")
        expect(page.locator("#units-table")).not_to_contain_text("Not yet in service")

        day.step("Run a commissioning test")
        others = commission(browser, server, day, units[0], errors)

        day.step("Check the scheme is in service")
        for unit in units:  # as every unit does each heartbeat period
            unit.heartbeat()
        day.menu("Overview")
        expect(page.locator("#unit-states")).to_have_text("In service: 3")
        assert serious_violations(page) == []
        day.actions += 1
        page.get_by_role("link", name="Health", exact=True).click()
        expect(page.locator("#health-summary")).to_contain_text("3 units: 3 up, 0 down")
        page.goto(f"{server.base_url}/help-points")
        expect(page.locator("#unit-list .badge.ok")).to_have_count(3)
        page.go_back()

        day.step("Print the signs and the leaflet")
        page.goto(f"{server.base_url}/admin")
        for name in ("Signs (PDF)", "Leaflet (PDF)"):
            link = page.get_by_role("navigation", name="Administration").get_by_role(
                "link", name=name
            )
            day.actions += 1
            pdf = page.request.get(server.base_url + str(link.get_attribute("href")))
            assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
            assert pdf.body().startswith(b"%PDF")
    finally:
        for unit in units:
            unit.stop()
    context.close()
    assert not errors, errors
    assert day.steps == doc_steps()
    pages = day.pages + sum(d.pages for d in others)
    actions = day.actions + sum(d.actions for d in others)
    print(f"first day: {len(day.steps)} steps, {pages} pages, {actions} actions")
