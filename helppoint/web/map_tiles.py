"""Map tiles from a local archive (PMTiles or MBTiles), so maps need no internet.

An admin sets `map_tiles_file` to a raster tile archive of the scheme's area; the console,
the police view, the routes page and the public map then take their background from
``/map/tiles/{z}/{x}/{y}`` on this server, and nothing on any page comes from another host.
Without it, `map_tiles_url` (an internet tile server) is used as before. Either way the units,
alarms and routes are drawn without tiles (docs/console.md).

PMTiles is read with the protomaps `pmtiles` library; an MBTiles file is an SQLite database
read with the standard library (its `tiles` table counts rows from the south, TMS-style).
"""

from __future__ import annotations

import gzip
import mmap
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from pmtiles.tile import (
    Compression,
    Entry,
    MagicNumberNotFound,
    SpecVersionUnsupported,
    TileType,
    deserialize_directory,
    deserialize_header,
    find_tile,
    zxy_to_tileid,
)

from helppoint.config import ConfigError, Settings

#: Where the pages find the tiles of a local archive.
LOCAL_TILES_URL = "/map/tiles/{z}/{x}/{y}"
#: Tiles change only when the admin replaces the archive (and the server restarts).
CACHE_CONTROL = "public, max-age=86400"
#: Deepest zoom a tile address may have (Leaflet's maps stop at 19; PMTiles allows 0-31).
MAX_ZOOM = 24

_MEDIA_TYPES = {
    TileType.PNG: "image/png",
    TileType.JPEG: "image/jpeg",
    TileType.WEBP: "image/webp",
    TileType.AVIF: "image/avif",
}
_MBTILES_FORMATS = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
}
_SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class ArchiveInfo:
    """What the pages need to know of an archive: its tiles' kind and zoom range."""

    path: Path
    kind: str  # "pmtiles" or "mbtiles"
    media_type: str
    min_zoom: int
    max_zoom: int
    #: "west,south,east,north" in degrees, or "" when the archive does not say.
    bounds: str = ""


class TileArchive:
    """A raster tile archive opened for reading by any number of threads."""

    def __init__(self, info: ArchiveInfo, read: Callable[[int, int, int], bytes | None]) -> None:
        self.info = info
        self._read = read

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile at z/x/y (rows from the north, as Leaflet counts), or None if absent."""
        if not (0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z):
            return None
        if not self.info.min_zoom <= z <= self.info.max_zoom:
            return None
        return self._read(z, x, y)


def _refuse(path: Path, why: str) -> ConfigError:
    return ConfigError(f"map_tiles_file {str(path)!r}: {why}")


def _vector_tiles(path: Path) -> ConfigError:
    return _refuse(
        path,
        "holds vector tiles; helppoint's maps draw raster tiles (PNG, JPEG or WebP): make a "
        "raster archive of the scheme's area (docs/deployment.md, Maps without the internet)",
    )


def open_archive(path: Path) -> TileArchive:
    """Open a PMTiles or MBTiles raster archive; ConfigError says what is wrong with it."""
    try:
        with path.open("rb") as probe:
            start = probe.read(16)
    except OSError as exc:
        raise _refuse(path, f"cannot be read ({exc.strerror or exc})") from None
    if start.startswith(b"PMTiles"):
        return _open_pmtiles(path)
    if start == _SQLITE_MAGIC:
        return _open_mbtiles(path)
    raise _refuse(path, "is neither a PMTiles archive nor an MBTiles (SQLite) file")


def _open_pmtiles(path: Path) -> TileArchive:
    handle = path.open("rb")
    try:
        mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        header = deserialize_header(mapping[0:127])
    except (MagicNumberNotFound, SpecVersionUnsupported, ValueError, OSError) as exc:
        handle.close()
        raise _refuse(
            path, f"is not a PMTiles archive of version 3 ({type(exc).__name__})"
        ) from None
    tile_type = header["tile_type"]
    if tile_type in (TileType.MVT, TileType.MLT):
        handle.close()
        raise _vector_tiles(path)
    if tile_type not in _MEDIA_TYPES:
        handle.close()
        raise _refuse(path, f"holds tiles of an unknown type ({tile_type.name})")
    compressed = header["tile_compression"]
    if compressed not in (Compression.NONE, Compression.GZIP, Compression.UNKNOWN):
        handle.close()
        raise _refuse(path, f"compresses its tiles with {compressed.name}, which it cannot read")
    internal_gzip = header["internal_compression"] == Compression.GZIP

    def get_bytes(offset: int, length: int) -> bytes:
        return mapping[offset : offset + length]

    @lru_cache(maxsize=128)
    def directory(offset: int, length: int) -> list[Entry]:
        data = get_bytes(offset, length)
        # The library's parser takes gzip-compressed directories (what its writer makes).
        return deserialize_directory(data if internal_gzip else gzip.compress(data))

    def read(z: int, x: int, y: int) -> bytes | None:
        # As pmtiles.reader.Reader.get, with the header read once and directories cached.
        tile_id = zxy_to_tileid(z, x, y)
        offset, length = header["root_offset"], header["root_length"]
        for _depth in range(4):
            entry = find_tile(directory(offset, length), tile_id)
            if entry is None:
                return None
            if entry.run_length > 0:
                data = get_bytes(header["tile_data_offset"] + entry.offset, entry.length)
                return gzip.decompress(data) if compressed == Compression.GZIP else bytes(data)
            offset = header["leaf_directory_offset"] + entry.offset
            length = entry.length
        return None

    corners = [header[k] / 1e7 for k in ("min_lon_e7", "min_lat_e7", "max_lon_e7", "max_lat_e7")]
    info = ArchiveInfo(
        path,
        "pmtiles",
        _MEDIA_TYPES[tile_type],
        header["min_zoom"],
        header["max_zoom"],
        _bounds(corners),
    )
    return TileArchive(info, read)


def _open_mbtiles(path: Path) -> TileArchive:
    try:
        connection = sqlite3.connect(
            f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False
        )
        metadata = dict(connection.execute("SELECT name, value FROM metadata").fetchall())
        zooms = connection.execute("SELECT min(zoom_level), max(zoom_level) FROM tiles").fetchone()
    except sqlite3.DatabaseError as exc:
        raise _refuse(path, f"is not an MBTiles file ({exc})") from None
    tile_format = str(metadata.get("format", "png")).lower()
    if tile_format in ("pbf", "mvt"):
        connection.close()
        raise _vector_tiles(path)
    if tile_format not in _MBTILES_FORMATS:
        connection.close()
        raise _refuse(path, f"holds tiles of format {tile_format!r}, not PNG, JPEG or WebP")
    if zooms is None or zooms[0] is None:
        connection.close()
        raise _refuse(path, "holds no tiles")
    lock = threading.Lock()

    def read(z: int, x: int, y: int) -> bytes | None:
        with lock:
            row = connection.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? "
                "AND tile_row = ?",
                (z, x, (2**z - 1) - y),  # MBTiles counts rows from the south
            ).fetchone()
        return None if row is None else bytes(row[0])

    try:
        corners = [float(part) for part in str(metadata.get("bounds", "")).split(",")]
    except ValueError:
        corners = []
    info = ArchiveInfo(
        path,
        "mbtiles",
        _MBTILES_FORMATS[tile_format],
        int(zooms[0]),
        int(zooms[1]),
        _bounds(corners),
    )
    return TileArchive(info, read)


def _bounds(corners: list[float]) -> str:
    """ "west,south,east,north" if the corners make a real area on the globe, else ""."""
    if len(corners) != 4:
        return ""
    west, south, east, north = corners
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        return ""
    return ",".join(f"{value:.7f}".rstrip("0").rstrip(".") for value in corners)


def archive_for(settings: Settings) -> TileArchive | None:
    """The configured archive, opened and checked, or None when maps use a tile server."""
    if not settings.map_tiles_file:
        return None
    return open_archive(Path(settings.map_tiles_file).expanduser())


def map_context(request: Request) -> dict[str, Any]:
    """What a page's map needs: where its tiles come from, their zoom limit, attribution."""
    settings = request.app.state.settings
    archive: TileArchive | None = getattr(request.app.state, "map_tiles", None)
    if archive is not None:
        return {
            "map_tiles_url": LOCAL_TILES_URL,
            "map_tiles_min_zoom": archive.info.min_zoom,
            "map_tiles_max_zoom": archive.info.max_zoom,
            "map_tiles_bounds": archive.info.bounds,
            "map_attribution": settings.map_attribution,
        }
    return {
        "map_tiles_url": settings.map_tiles_url,
        "map_tiles_min_zoom": 0,
        "map_tiles_max_zoom": 19,
        "map_tiles_bounds": "",
        "map_attribution": settings.map_attribution,
    }


router = APIRouter()


@router.get("/map/tiles/{z}/{x}/{y}", include_in_schema=False)
def map_tile(request: Request, z: int, x: int, y: int) -> Response:
    """One tile of the local archive (404 outside it, or when no archive is configured)."""
    archive: TileArchive | None = getattr(request.app.state, "map_tiles", None)
    data = None if archive is None else archive.tile(z, x, y)
    if archive is None or data is None:
        return Response(status_code=404, headers={"cache-control": "no-store"})
    return Response(
        data, media_type=archive.info.media_type, headers={"cache-control": CACHE_CONTROL}
    )
