"""Where call recordings are kept, and checking them against their checksums."""

from __future__ import annotations

import hashlib
from pathlib import Path

from helppoint.config import Settings, default_data_dir


def recordings_path(settings: Settings) -> Path:
    """Where recordings are kept: the setting, or recordings/ beside the embedded database."""
    if settings.recordings_dir:
        return Path(settings.recordings_dir)
    url = settings.database_url
    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        return Path(url.removeprefix("sqlite:///")).parent / "recordings"
    return default_data_dir() / "recordings"


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
