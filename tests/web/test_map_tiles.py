"""Maps without the internet: tiles from a local PMTiles or MBTiles archive (made here), served
by the server to the console, police view, routes page and public map, with no other host in
the pages or their content security policy; archives it cannot use stop the server clearly."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pmtiles.tile import TileType

from helppoint.config import ConfigError, Settings
from helppoint.domain.model import Role
from helppoint.web.app import create_app
from helppoint.web.map_tiles import open_archive
from tests.conftest import Database, LiveServer
from tests.map_archives import DEMO_AREA, make_mbtiles, make_pmtiles, tile_png

PASSWORD = "correct horse battery"
MAKERS: dict[str, Callable[..., list[tuple[int, int, int]]]] = {
    "pmtiles": make_pmtiles,
    "mbtiles": make_mbtiles,
}


@pytest.fixture(params=sorted(MAKERS))
def archive(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, list[Any]]:
    path = tmp_path / f"area.{request.param}"
    return path, MAKERS[request.param](path, zooms=range(10, 16))


def test_an_archive_gives_each_tile_it_holds_and_nothing_else(
    archive: tuple[Path, list[tuple[int, int, int]]],
) -> None:
    path, tiles = archive
    opened = open_archive(path)
    assert (opened.info.min_zoom, opened.info.max_zoom) == (10, 15)
    assert [float(v) for v in opened.info.bounds.split(",")] == list(DEMO_AREA)
    assert opened.info.media_type == "image/png"
    for z, x, y in tiles[:: max(1, len(tiles) // 12)] + tiles[-1:]:
        assert opened.tile(z, x, y) == tile_png(z, x, y), (z, x, y)
    z, x, y = tiles[-1]
    assert opened.tile(z, x + 50, y) is None  # outside the area
    assert opened.tile(9, x >> 6, y >> 6) is None  # below its zooms
    assert opened.tile(16, x * 2, y * 2) is None  # above them
    assert opened.tile(z, -1, y) is None
    assert opened.tile(z, 2**z, y) is None
    assert opened.tile(40, 0, 0) is None


def test_archives_it_cannot_use_are_refused_with_what_is_wrong(tmp_path: Path) -> None:
    make_pmtiles(tmp_path / "vector.pmtiles", zooms=range(14, 15), tile_type=TileType.MVT)
    make_mbtiles(tmp_path / "vector.mbtiles", zooms=range(14, 15), tile_format="pbf")
    (tmp_path / "notes.txt").write_text("not tiles")
    (tmp_path / "broken.pmtiles").write_bytes(b"PMTiles\x09" + bytes(200))
    make_mbtiles(tmp_path / "empty.mbtiles", zooms=range(0, 0))
    cases = {
        "vector.pmtiles": "holds vector tiles",
        "vector.mbtiles": "holds vector tiles",
        "notes.txt": "neither a PMTiles archive nor an MBTiles",
        "broken.pmtiles": "not a PMTiles archive of version 3",
        "empty.mbtiles": "holds no tiles",
        "missing.pmtiles": "cannot be read",
    }
    for name, reason in cases.items():
        with pytest.raises(ConfigError, match=reason):
            open_archive(tmp_path / name)


def test_a_server_with_an_unusable_archive_does_not_start(
    sqlite_database: Database, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("not tiles")
    settings = Settings().with_values(
        {"database_url": sqlite_database.url, "map_tiles_file": str(tmp_path / "notes.txt")}
    )
    with pytest.raises(ConfigError, match="map_tiles_file"):
        create_app(settings, sqlite_database.engine)


def _signed_in(server: LiveServer, username: str, role: Role) -> httpx.Client:
    server.add_operator(username, PASSWORD, role)
    http = httpx.Client(base_url=server.base_url, timeout=None)
    assert http.post("/api/login", json={"username": username, "password": PASSWORD}).is_success
    return http


def _map_attributes(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-(tiles-[a-z-]+|attribution)="([^"]*)"', html))


def _foreign_images(csp: str) -> list[str]:
    [img] = [part for part in csp.split(";") if part.strip().startswith("img-src")]
    return [source for source in img.split()[1:] if "://" in source]


def test_every_map_takes_its_tiles_from_the_archive_and_no_other_host(
    archive: tuple[Path, list[tuple[int, int, int]]],
    server_factory: Callable[..., LiveServer],
) -> None:
    path, tiles = archive
    server = server_factory(map_tiles_file=str(path), supervision=False)
    z, x, y = tiles[0]
    public = httpx.Client(base_url=server.base_url, timeout=None)
    tile = public.get(f"/map/tiles/{z}/{x}/{y}")
    assert tile.status_code == 200
    assert tile.headers["content-type"] == "image/png"
    assert tile.content == tile_png(z, x, y)
    assert public.get(f"/map/tiles/{z}/{x + 50}/{y}").status_code == 404
    assert public.get("/map/tiles/3/99/1").status_code == 404
    assert public.get("/map/tiles/a/b/c").status_code == 422

    pages = {
        "/help-points": public,
        "/": _signed_in(server, "olive", Role.OPERATOR),
        "/police": _signed_in(server, "pc-jones", Role.POLICE),
        "/admin/routes": _signed_in(server, "ada", Role.ADMIN),
    }
    for page, http in pages.items():
        answer = http.get(page)
        assert answer.status_code == 200, page
        attributes = _map_attributes(answer.text)
        assert attributes["tiles-url"] == "/map/tiles/{z}/{x}/{y}", page
        assert (attributes["tiles-min-zoom"], attributes["tiles-max-zoom"]) == ("10", "15")
        assert attributes["tiles-bounds"], page
        assert _foreign_images(answer.headers["content-security-policy"]) == [], page
        # Nothing the page loads comes from another host (scripts, styles, images).
        for reference in re.findall(r'(?:src|href)="([^"]+)"', answer.text):
            assert not re.match(r"(https?:)?//", reference), (page, reference)


def test_without_an_archive_the_maps_use_the_tile_server(live_server: LiveServer) -> None:
    http = httpx.Client(base_url=live_server.base_url, timeout=None)
    answer = http.get("/help-points")
    assert _map_attributes(answer.text)["tiles-url"] == Settings().map_tiles_url
    assert _foreign_images(answer.headers["content-security-policy"]) == [
        "https://tile.openstreetmap.org"
    ]
    assert http.get("/map/tiles/0/0/0").status_code == 404
