"""The manifest of a backup: what is in it, with the SHA-256 of every file."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

MANIFEST = "manifest.json"
FORMAT = "helppoint-backup"
VERSION = 1
#: A manifest larger than this is not one of ours.
MAX_MANIFEST_BYTES = 256 * 1024 * 1024


class BackupError(Exception):
    """A backup cannot be made, or a backup is bad; the message says what and where."""


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    sha256: str


@dataclass
class Manifest:
    created_at: str
    helppoint_version: str
    #: "sqlite" or "postgresql".
    database: str
    #: The file holding the database, among `files`.
    database_file: str
    #: The Alembic revision of the backed-up schema.
    schema_revision: str
    #: PostgreSQL: the schema that was dumped (restored under the same name).
    schema: str | None = None
    #: Rows of the main tables when the backup was taken (shown by restore).
    counts: dict[str, int] = field(default_factory=dict)
    files: list[FileEntry] = field(default_factory=list)

    def write(self, directory: Path) -> None:
        data = {"format": FORMAT, "version": VERSION, **asdict(self)}
        text = json.dumps(data, indent=1, ensure_ascii=True)
        (directory / MANIFEST).write_text(text + "\n", encoding="ascii")

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST
        try:
            if path.stat().st_size > MAX_MANIFEST_BYTES:
                raise BackupError(f"{path} is too large to be a helppoint backup manifest")
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise BackupError(f"{directory} is not a helppoint backup: no {MANIFEST}") from None
        except (OSError, ValueError) as exc:
            raise BackupError(f"{path} cannot be read as JSON: {exc}") from None
        try:
            return cls._from(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise BackupError(f"{path} is not a helppoint backup manifest: {exc}") from None

    @classmethod
    def _from(cls, data: Any) -> Manifest:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"format is not {FORMAT!r}")
        if data.get("version") != VERSION:
            raise ValueError(
                f"version {data.get('version')!r} unknown (this release reads {VERSION})"
            )
        files = []
        for item in data["files"]:
            entry = FileEntry(str(item["path"]), int(item["size"]), str(item["sha256"]))
            safe_relative(entry.path)
            if len(entry.sha256) != 64 or not all(c in "0123456789abcdef" for c in entry.sha256):
                raise ValueError(f"{entry.path}: sha256 is not 64 hex digits")
            files.append(entry)
        if len({f.path for f in files}) != len(files):
            raise ValueError("a file is listed twice")
        manifest = cls(
            created_at=str(data["created_at"]),
            helppoint_version=str(data["helppoint_version"]),
            database=str(data["database"]),
            database_file=str(data["database_file"]),
            schema_revision=str(data["schema_revision"]),
            schema=None if data.get("schema") is None else str(data["schema"]),
            counts={str(k): int(v) for k, v in dict(data.get("counts", {})).items()},
            files=files,
        )
        if manifest.database not in ("sqlite", "postgresql"):
            raise ValueError(f"database {manifest.database!r} unknown")
        if manifest.database_file not in {f.path for f in files}:
            raise ValueError("the database file is not among the files")
        return manifest


def safe_relative(path: str) -> PurePosixPath:
    """`path` as a relative path inside the backup, or ValueError (absolute, `..`, odd)."""
    pure = PurePosixPath(path)
    if (
        not path
        or pure.is_absolute()
        or any(part in ("", ".", "..") for part in path.split("/"))
        or "\\" in path
        or "\x00" in path
        or not path.isprintable()
    ):
        raise ValueError(f"file path {path!r} is not a plain relative path")
    return pure


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def entry_for(directory: Path, relative: str) -> FileEntry:
    path = directory / relative
    return FileEntry(relative, path.stat().st_size, sha256_file(path))


def check_files(directory: Path, manifest: Manifest) -> None:
    """Every listed file present with its size and SHA-256, and nothing else: else BackupError."""
    problems = []
    listed = {entry.path for entry in manifest.files} | {MANIFEST}
    for entry in manifest.files:
        path = directory / entry.path
        if path.is_symlink() or not path.is_file():
            problems.append(f"{entry.path}: missing")
        elif path.stat().st_size != entry.size:
            problems.append(
                f"{entry.path}: {path.stat().st_size} bytes, the manifest says {entry.size}"
            )
        elif sha256_file(path) != entry.sha256:
            problems.append(f"{entry.path}: SHA-256 differs from the manifest (changed or damaged)")
    for root, _dirs, names in os.walk(directory):
        for name in names:
            relative = (Path(root) / name).relative_to(directory).as_posix()
            if relative not in listed:
                problems.append(f"{relative}: not in the manifest (added after the backup)")
    if problems:
        shown = "; ".join(problems[:20]) + (
            f"; and {len(problems) - 20} more" if len(problems) > 20 else ""
        )
        raise BackupError(f"the backup in {directory} is bad: {shown}")
