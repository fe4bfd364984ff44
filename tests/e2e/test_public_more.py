"""The public side in a real browser: nearest help point worked out on the phone (its position
never sent), offline use through the service worker, and WCAG 2.2 AA (axe-core) on every public
page in every language (docs/public-pages.md, docs/i18n.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, expect

from helppoint.domain.model import Role
from tests.web.test_api import client

from .harness import UNREACHABLE_TILES
from .test_public import PHONE, ROUTE, serious_violations

pytestmark = pytest.mark.browser
#: Resolves once the service worker controls the page.
CONTROLLED = """() => navigator.serviceWorker.ready.then(() => navigator.serviceWorker.controller
  ? true
  : new Promise((resolve) => navigator.serviceWorker.addEventListener(
      "controllerchange", () => resolve(true), { once: true })))"""

#: 20 m off the racecourse's lit path, about 100 m north-west of the pavilion (HP-02) as the
#: crow flies: the way along the path is the better walk.
HERE = {"latitude": 52.24947, "longitude": -0.88900}


@pytest.fixture
def in_service(server_factory: Callable[..., Any]) -> Any:
    """A server whose eight units have all been heard from, with a safer route and open data."""
    server = server_factory(map_tiles_url=UNREACHABLE_TILES, open_data_public=True)
    client(server, "adam", Role.ADMIN).post("/api/routes", json=ROUTE)
    with server.database.uow() as uow:
        uow.units.touch([f"HP-0{n}" for n in range(1, 9)], datetime.now(UTC))
        uow.commit()
    return server


@pytest.fixture
def located(browser: Browser) -> Iterator[tuple[BrowserContext, Page, list[Request]]]:
    context = browser.new_context(
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        geolocation=HERE,
        permissions=["geolocation"],
    )
    page = context.new_page()
    errors: list[str] = []
    requests: list[Request] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    context.on("request", lambda request: requests.append(request))
    yield context, page, requests
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def _sent_anywhere(requests: list[Request]) -> list[str]:
    """Requests that carry the position in their address or body, in any usual spelling."""
    spellings = ("52.249", "-0.889", "0.88900", "52,249", "-0,889")
    leaks = []
    for request in requests:
        text = request.url + (request.post_data or "")
        if any(s in text for s in spellings) or request.method != "GET":
            leaks.append(f"{request.method} {request.url}")
    return leaks


def test_nearest_help_point_and_route_worked_out_on_the_phone(
    in_service: Any, located: tuple[BrowserContext, Page, list[Request]]
) -> None:
    _, page, requests = located
    page.goto(f"{in_service.base_url}/help-points")
    expect(page.locator("#public-map")).to_have_attribute("data-ready", "8")
    requests.clear()
    page.get_by_role("button", name="Find the nearest help point").click()
    result = page.locator("#nearest-result")
    expect(result).to_contain_text("The nearest help point is Racecourse - pavilion")
    expect(result).to_contain_text("to the south-east")
    expect(result).to_contain_text("on safer routes")
    expect(result.get_by_role("link", name="Racecourse - pavilion")).to_have_attribute(
        "href", "/p/HP-02"
    )
    # Drawn on the map: you are here, the straight part and the part along the lit path.
    expect(page.locator("path.pub-you-are-here")).to_have_count(1)
    expect(page.locator("path.pub-walk-straight").first).to_be_attached()
    expect(page.locator("path.pub-walk-safer").first).to_be_attached()
    assert _sent_anywhere(requests) == []
    assert serious_violations(page) == []


def test_nearest_in_polish_on_a_unit_page(
    in_service: Any, located: tuple[BrowserContext, Page, list[Request]]
) -> None:
    _, page, requests = located
    page.goto(f"{in_service.base_url}/p/HP-07?lang=pl")
    page.get_by_role("button", name="Znajdź najbliższy punkt pomocy").click()
    expect(page.locator("#nearest-result")).to_contain_text(
        "Najbliższy punkt pomocy to Racecourse - pavilion"
    )
    expect(page.locator("#nearest-result")).to_contain_text("w kierunku: południowy wschód")
    assert _sent_anywhere([r for r in requests if "/p/HP-07" not in r.url]) == []


def test_a_refused_location_is_said_plainly(in_service: Any, browser: Browser) -> None:
    context = browser.new_context(viewport=PHONE)  # no geolocation permission
    page = context.new_page()
    page.goto(f"{in_service.base_url}/help-points")
    page.get_by_role("button", name="Find the nearest help point").click()
    expect(page.locator("#nearest-status")).to_have_text(
        "Your location was not shared. You can still use the list of help points."
    )
    context.close()


def test_the_map_and_visited_unit_pages_open_offline(
    in_service: Any, located: tuple[BrowserContext, Page, list[Request]]
) -> None:
    context, page, _ = located
    base = in_service.base_url
    page.goto(f"{base}/help-points")
    expect(page.locator("#public-map")).to_have_attribute("data-ready", "8")
    # Awaited in the page (the page's CSP forbids the eval a polled wait_for_function uses).
    assert page.evaluate(CONTROLLED)
    page.goto(f"{base}/p/HP-05")
    expect(page.get_by_role("heading", level=1)).to_have_text("Market Square")
    context.set_offline(True)
    page.goto(f"{base}/help-points")
    expect(page.locator("#unit-list li")).to_have_count(8)
    expect(page.locator("#public-map")).to_have_attribute("data-ready", "8")
    expect(page.locator("#route-list")).to_contain_text("Racecourse lit path")
    # Nearest help point works offline too: everything it needs is on the phone.
    page.get_by_role("button", name="Find the nearest help point").click()
    expect(page.locator("#nearest-result")).to_contain_text("Racecourse - pavilion")
    page.goto(f"{base}/p/HP-05")
    expect(page.get_by_role("heading", level=1)).to_have_text("Market Square")
    expect(page.get_by_role("link", name="999").first).to_have_attribute("href", "tel:999")
    context.set_offline(False)


def _survey_refused(page: Page, base: str, lang: str) -> None:
    """The unit page as it answers a refused survey (no answer chosen)."""
    page.goto(f"{base}/p/HP-03?lang={lang}")
    page.evaluate(
        "document.querySelectorAll('[required]').forEach(e => e.removeAttribute('required'))"
    )
    page.locator("#survey button[type=submit]").click()
    expect(page.locator("#survey-errors")).to_be_visible()


@pytest.mark.parametrize("lang", ["en", "pl", "ro"])
def test_every_public_page_in_every_language_meets_wcag_aa(
    in_service: Any, browser: Browser, lang: str
) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    base = in_service.base_url
    checked = []
    for path in ("/help-points", "/p/HP-05", "/p/HP-99", "/open-data", "/help-points/here.pdf"):
        page.goto(f"{base}{path}?lang={lang}")  # here.pdf without a place: the error page
        expect(page.locator("html")).to_have_attribute("lang", "en-GB" if lang == "en" else lang)
        if path == "/help-points":
            expect(page.locator("#public-map")).to_have_attribute("data-ready", "8")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
        checked.append((path, serious_violations(page)))
    _survey_refused(page, base, lang)
    checked.append(("survey refused", serious_violations(page)))
    page.locator("#feeling-4").check()
    page.locator("#survey button[type=submit]").click()
    expect(page.locator("#survey-done")).to_be_visible()
    checked.append(("survey thanks", serious_violations(page)))
    context.close()
    assert [c for c in checked if c[1]] == []


def test_a_you_are_here_map_for_the_centre_of_the_map(
    in_service: Any, located: tuple[BrowserContext, Page, list[Request]]
) -> None:
    _, page, _ = located
    page.goto(f"{in_service.base_url}/help-points")
    expect(page.locator("#public-map")).to_have_attribute("data-ready", "8")
    page.get_by_label("Name of the place (optional)").fill("Racecourse gate")
    page.get_by_role("button", name="Use the centre of the map").click()
    latitude = float(page.get_by_label("Latitude").input_value())
    longitude = float(page.get_by_label("Longitude").input_value())
    assert 52.2 < latitude < 52.3 and -0.95 < longitude < -0.85
    with page.expect_response(lambda r: "/help-points/here.pdf" in r.url) as answer:
        page.evaluate("document.querySelector('.here-form').requestSubmit()")
    response = answer.value
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    assert "name=Racecourse+gate" in response.url


def test_the_map_first_load_is_within_its_200_kb_budget(in_service: Any, browser: Browser) -> None:
    # Bytes, not time: what the page transfers until its map is drawn, compressed as sent.
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    sizes: dict[str, float] = {}
    cdp.on(
        "Network.loadingFinished",
        lambda event: sizes.__setitem__(event["requestId"], event["encodedDataLength"]),
    )
    page.goto(f"{in_service.base_url}/help-points")
    expect(page.locator("#public-map")).to_have_attribute("data-ready", "8")
    # The stylesheet in the page is allowed by the CSP (its hash) and applied.
    header = page.evaluate(
        "getComputedStyle(document.querySelector('.pub-header')).backgroundColor"
    )
    assert header == "rgb(11, 79, 168)"
    context.close()
    assert 0 < sum(sizes.values()) <= 200_000, sizes


def test_the_walking_route_keeps_to_safer_routes_and_changes_between_them(
    in_service: Any, browser: Browser
) -> None:
    # nearest-core.js in the page itself, on made-up lines 0.001° apart (about 68 m east-west).
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{in_service.base_url}/help-points")
    result = page.evaluate(
        """async () => {
          const core = await import("/static/nearest-core.js");
          const east = [[0.000, 52.000], [0.010, 52.000]];          // a lit path going east
          const north = [[0.0105, 52.0002], [0.0105, 52.010]];      // another going north
          const from = [0.0, 52.0003];                               // 33 m north of the first
          const to = [0.0107, 52.0095];                              // near the second's end
          const both = core.walkingRoute(from, to, [east, north]);
          const none = core.walkingRoute(from, to, []);
          return {
            both: { metres: both.metres, on: both.onRouteMetres,
                    legs: both.legs.map((leg) => leg.onRoute) },
            none: { metres: none.metres, on: none.onRouteMetres, legs: none.legs.length },
            straight: core.distance(from, to),
            compass: core.compass(core.bearing(from, to)),
          };
        }"""
    )
    context.close()
    # Without routes: one straight leg, as the crow flies.
    assert result["none"] == {"metres": pytest.approx(result["straight"]), "on": 0, "legs": 1}
    # With them: onto the first path, along it, across to the second, up it, to the point.
    assert result["both"]["legs"] == [False, True, False, True, False]
    assert result["both"]["on"] > 0.9 * result["both"]["metres"]
    assert result["both"]["metres"] < 1.5 * result["straight"]
    assert result["compass"] == "ne"
