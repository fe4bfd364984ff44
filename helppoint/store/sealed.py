"""Secrets the server must use again (a camera's password) sealed at rest with AES-256-GCM.

A password the server sends to a device cannot be hashed like an operator's. It is encrypted
with a key kept outside the database: the `credentials_key` setting (32 random bytes, base64;
set it through HELPPOINT_CREDENTIALS_KEY on every process of a cluster), or else a key file
created on first use beside the embedded database (mode 0600). A copy of the database alone
does not reveal the secrets; a sealed value is bound to the row it belongs to (associated
data), so it cannot be moved to another camera.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from helppoint.config import ConfigError, Settings, default_data_dir

_VERSION = "v1:"
_NONCE = 12
KEY_FILE = "credentials.key"


class SealError(Exception):
    """A sealed value cannot be opened: another key sealed it, or it was altered."""


class Sealer:
    """Seals and opens short secrets with one AES-256-GCM key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ConfigError("the credentials key must be 32 bytes (base64 of 32 random bytes)")
        self._aead = AESGCM(key)

    def seal(self, plaintext: str, context: str) -> str:
        """``plaintext`` encrypted for the row named by ``context`` (e.g. "camera:CAM-01")."""
        nonce = secrets.token_bytes(_NONCE)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        return _VERSION + base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, sealed: str, context: str) -> str:
        """The plaintext of a value sealed for ``context``; SealError if it cannot be opened."""
        if not sealed.startswith(_VERSION):
            raise SealError("not a sealed value (unknown format)")
        try:
            raw = base64.b64decode(sealed[len(_VERSION) :], validate=True)
            plain = self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], context.encode("utf-8"))
        except (binascii.Error, ValueError, InvalidTag):
            raise SealError(
                "the stored credentials cannot be opened: they were sealed with another "
                "credentials key (set the same HELPPOINT_CREDENTIALS_KEY on every server) or "
                "altered; enter them again"
            ) from None
        return plain.decode("utf-8")


def credentials_key_path(settings: Settings) -> Path:
    """Where the key file lives when the setting is empty: beside the embedded database."""
    url = settings.database_url
    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        return Path(url.removeprefix("sqlite:///")).parent / KEY_FILE
    return default_data_dir() / KEY_FILE


def sealer_for(settings: Settings) -> Sealer:
    """The sealer of this installation: the configured key, or the key file (made if absent)."""
    if settings.credentials_key:
        try:
            key = base64.b64decode(settings.credentials_key, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError("credentials_key must be base64 (of 32 random bytes)") from None
        return Sealer(key)
    path = credentials_key_path(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole under another name, then linked into place: a process starting at the
        # same moment either sees no file or a complete one, and the first link wins.
        temporary = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.b64encode(secrets.token_bytes(32)).decode("ascii") + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            temporary.unlink()
    try:
        key = base64.b64decode(path.read_text().strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"the credentials key file {path} is damaged") from None
    return Sealer(key)
