"""`helppoint camera …` as a real subprocess: the password from stdin, never echoed."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import helppoint


def test_register_link_list_and_refuse_from_the_command_line(tmp_path: Path) -> None:
    db = tmp_path / "hp.sqlite"
    assert helppoint("zone", "add", "town", "--name", "Town", db=db).returncode == 0
    unit = helppoint(
        "unit",
        "add",
        "HP-01",
        "--name",
        "A",
        "--zone",
        "town",
        "--lat",
        "52",
        "--lon",
        "-0.9",
        db=db,
    )
    assert unit.returncode == 0
    added = helppoint(
        "camera",
        "add",
        "CAM-01",
        "--name",
        "Market PTZ",
        "--rtsp",
        "rtsp://192.0.2.10/s1",
        "--onvif",
        "192.0.2.10:8080",
        "--user",
        "admin",
        "--password-stdin",
        "--json",
        db=db,
        stdin="hunter2\n",
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["password_set"] is True
    assert "hunter2" not in added.stdout + added.stderr
    linked = helppoint(
        "camera", "link", "CAM-01", "--unit", "HP-01", "--preset", "2", "--own", db=db
    )
    assert linked.returncode == 0, linked.stderr
    assert "shown for unit HP-01 (its own camera), preset 2" in linked.stdout
    listed = helppoint("camera", "list", db=db)
    assert "CAM-01" in listed.stdout and "unit:HP-01(own)@2" in listed.stdout
    shown = helppoint("camera", "show", "CAM-01", db=db)
    assert "ad… (password set)" in shown.stdout and "hunter2" not in shown.stdout
    assert "hunter2" not in (tmp_path / "hp.sqlite").read_bytes().decode("latin-1")

    refused = helppoint("camera", "add", "CAM-02", "--name", "X", "--rtsp", "http://x/", db=db)
    assert refused.returncode == 2
    assert "not an RTSP URL" in refused.stderr
    zone_preset = helppoint("camera", "link", "CAM-01", "--zone", "town", "--preset", "1", db=db)
    assert zone_preset.returncode == 2 and "belongs to a unit" in zone_preset.stderr
    missing = helppoint("camera", "link", "CAM-01", "--unit", "HP-99", db=db)
    assert missing.returncode == 2 and "HP-99" in missing.stderr
    removed = helppoint("camera", "remove", "CAM-01", db=db)
    assert removed.returncode == 0 and helppoint("camera", "list", db=db).stdout == ""


def test_clips_are_verified_and_purged_from_the_command_line(tmp_path: Path) -> None:
    db = tmp_path / "hp.sqlite"
    verified = helppoint("camera", "verify-clips", db=db)
    assert verified.returncode == 0 and "0 clip(s) checked, 0 with problems" in verified.stdout
    purged = helppoint("camera", "purge-clips", db=db)
    assert purged.returncode == 0 and "deleted 0 clip(s)" in purged.stdout
