"""Maps without the internet, in Chromium: with a local tile archive (a PMTiles file made here)
the console, the police view, the routes page and the public map draw their background from
this server's /map/tiles, draw the units, and ask no other host for anything."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from helppoint.domain.model import Role
from tests.map_archives import make_pmtiles

from .harness import PASSWORD, VIEWPORT

pytestmark = pytest.mark.browser

# page, who signs in (None: nobody), the map's element, what the map draws without tiles
PAGES = [
    ("/", Role.OPERATOR, "#map", "#map path.leaflet-interactive"),
    ("/police", Role.POLICE, "#police-map", None),
    ("/admin/routes", Role.ADMIN, "#routes-map", "#routes-map path.leaflet-interactive"),
    ("/help-points", None, "#public-map", "#public-map path.leaflet-interactive"),
]


@pytest.fixture
def offline_server(server_factory: Callable[..., Any], tmp_path: Path) -> Any:
    archive = tmp_path / "scheme.pmtiles"
    make_pmtiles(archive, zooms=range(0, 17))
    return server_factory(map_tiles_file=str(archive), supervision=False)


def _open(browser: Browser, server: Any, path: str, role: Role | None) -> tuple[Page, list[str]]:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    if role is not None:
        username = f"user-{role.value}"
        server.add_operator(username, PASSWORD, role)
        page.goto(f"{server.base_url}/login?next={path}", wait_until="domcontentloaded")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{server.base_url}{path}")
    else:
        page.goto(f"{server.base_url}{path}")
    return page, requested


@pytest.mark.parametrize(("path", "role", "element", "drawn"), PAGES, ids=[p[0] for p in PAGES])
def test_the_map_draws_from_the_local_archive_and_no_other_host(
    browser: Browser,
    offline_server: Any,
    path: str,
    role: Role | None,
    element: str,
    drawn: str | None,
) -> None:
    page, requested = _open(browser, offline_server, path, role)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    expect(page.locator(f"{element} img.leaflet-tile-loaded").first).to_be_attached()
    if drawn is not None:
        expect(page.locator(drawn).first).to_be_attached()
    tiles = page.locator(f"{element} img.leaflet-tile-loaded")
    sources = tiles.evaluate_all("images => images.map((image) => image.src)")
    assert sources and all(
        src.startswith(f"{offline_server.base_url}/map/tiles/") for src in sources
    ), sources
    # Every request the page made went to this server (or was a data:/blob: URL).
    foreign = [
        url
        for url in requested
        if not url.startswith(offline_server.base_url) and not url.startswith(("data:", "blob:"))
    ]
    assert foreign == []
    assert errors == []
    page.context.close()
