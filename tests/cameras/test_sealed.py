"""Camera passwords are sealed with a key kept outside the database."""

from __future__ import annotations

import base64
import secrets
import stat
from pathlib import Path

import pytest

from helppoint.config import ConfigError, Settings
from helppoint.store.sealed import Sealer, SealError, sealer_for


def test_a_sealed_value_opens_only_for_its_row_and_key() -> None:
    sealer = Sealer(secrets.token_bytes(32))
    sealed = sealer.seal("hunter2", "camera:CAM-01")
    assert "hunter2" not in sealed and sealed.startswith("v1:")
    assert sealer.open(sealed, "camera:CAM-01") == "hunter2"
    assert sealer.seal("hunter2", "camera:CAM-01") != sealed  # a fresh nonce each time
    with pytest.raises(SealError, match="another credentials key"):
        sealer.open(sealed, "camera:CAM-02")
    with pytest.raises(SealError):
        Sealer(secrets.token_bytes(32)).open(sealed, "camera:CAM-01")
    tampered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(SealError):
        sealer.open(tampered, "camera:CAM-01")
    with pytest.raises(SealError, match="unknown format"):
        sealer.open("hunter2", "camera:CAM-01")
    with pytest.raises(SealError):
        sealer.open("v1:not base64!", "camera:CAM-01")


def test_without_a_configured_key_a_private_key_file_is_made_once(tmp_path: Path) -> None:
    settings = Settings().with_values({"database_url": f"sqlite:///{tmp_path / 'db.sqlite'}"})
    first = sealer_for(settings)
    key_file = tmp_path / "credentials.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    sealed = first.seal("pw", "camera:X")
    assert sealer_for(settings).open(sealed, "camera:X") == "pw"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["credentials.key"]


def test_a_configured_key_is_used_and_checked() -> None:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    a = sealer_for(Settings().with_values({"credentials_key": key}))
    b = Sealer(base64.b64decode(key))
    assert b.open(a.seal("pw", "c"), "c") == "pw"
    with pytest.raises(ConfigError, match="base64"):
        sealer_for(Settings().with_values({"credentials_key": "not*base64"}))
    with pytest.raises(ConfigError, match="32 bytes"):
        sealer_for(Settings().with_values({"credentials_key": base64.b64encode(b"short").decode()}))
