"""Small raster tile archives made for tests: PMTiles (with the pmtiles library's writer) and
MBTiles (an SQLite file as the MBTiles specification lays it out), each tile a PNG of its
own colour so a test can tell which tile it was given."""

from __future__ import annotations

import io
import json
import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from PIL import Image
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import write

#: The demo scheme's area (Northampton: the eight demo units), west, south, east, north.
DEMO_AREA = (-0.90, 52.235, -0.88, 52.255)


def tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The tile holding a point at zoom z (rows from the north, as Leaflet counts)."""
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    rad = math.radians(lat)
    y = int((1.0 - math.asinh(math.tan(rad)) / math.pi) / 2.0 * n)
    return min(x, n - 1), min(y, n - 1)


def tiles_over(
    area: tuple[float, float, float, float], zooms: range
) -> Iterator[tuple[int, int, int]]:
    west, south, east, north = area
    for z in zooms:
        x0, y0 = tile_xy(west, north, z)
        x1, y1 = tile_xy(east, south, z)
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                yield z, x, y


def tile_png(z: int, x: int, y: int) -> bytes:
    """A 256-pixel PNG whose colour is the tile's own."""
    out = io.BytesIO()
    Image.new("RGB", (256, 256), (z * 10 % 256, x % 256, y % 256)).save(out, "PNG")
    return out.getvalue()


def make_pmtiles(
    path: Path,
    area: tuple[float, float, float, float] = DEMO_AREA,
    zooms: range = range(0, 16),
    tile_type: TileType = TileType.PNG,
) -> list[tuple[int, int, int]]:
    """Write a PMTiles archive of the area; the tiles it holds."""
    tiles = sorted(tiles_over(area, zooms), key=lambda t: zxy_to_tileid(*t))
    west, south, east, north = area
    with write(str(path)) as writer:
        for z, x, y in tiles:
            writer.write_tile(zxy_to_tileid(z, x, y), tile_png(z, x, y))
        writer.finalize(
            {
                "tile_type": tile_type,
                "tile_compression": Compression.NONE,
                "min_zoom": zooms.start,
                "max_zoom": zooms.stop - 1,
                "min_lon_e7": int(west * 1e7),
                "min_lat_e7": int(south * 1e7),
                "max_lon_e7": int(east * 1e7),
                "max_lat_e7": int(north * 1e7),
                "center_zoom": zooms.stop - 1,
                "center_lon_e7": int((west + east) / 2 * 1e7),
                "center_lat_e7": int((south + north) / 2 * 1e7),
            },
            {"attribution": "test tiles"},
        )
    return tiles


def make_mbtiles(
    path: Path,
    area: tuple[float, float, float, float] = DEMO_AREA,
    zooms: range = range(0, 16),
    tile_format: str = "png",
) -> list[tuple[int, int, int]]:
    """Write an MBTiles file of the area (rows counted from the south); the tiles it holds."""
    tiles = list(tiles_over(area, zooms))
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        db.execute(
            "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, "
            "tile_data BLOB)"
        )
        metadata = {
            "name": "test",
            "format": tile_format,
            "bounds": ",".join(str(v) for v in area),
            "json": json.dumps({}),
        }
        db.executemany("INSERT INTO metadata VALUES (?, ?)", metadata.items())
        db.executemany(
            "INSERT INTO tiles VALUES (?, ?, ?, ?)",
            [(z, x, 2**z - 1 - y, tile_png(z, x, y)) for z, x, y in tiles],
        )
    return tiles
