"""`helppoint sia …`: managing DC-09 accounts from the command line (a real subprocess)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cli import inprocess


def helppoint(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    return inprocess.run([*args, "--database-url", f"sqlite:///{db}"])


@pytest.mark.parametrize(
    "command",
    [["sia", "add"], ["sia", "list"], ["sia", "disable"], ["sia", "codes"], ["sia", "handle"]],
)
def test_help(command: list[str]) -> None:
    result = inprocess.run([*command, "--help"])
    assert result.returncode == 0 and "usage: helppoint sia" in result.stdout


def test_add_list_disable(tmp_path: Path) -> None:
    db = tmp_path / "cli.sqlite"
    assert helppoint("zone", "add", "park", "--name", "Park", db=db).returncode == 0
    for unit in ("HP-10", "HP-11"):
        made = helppoint(
            "unit", "add", unit, "--name", unit, "--zone", "park", "--lat", "1", "--lon", "1", db=db
        )
        assert made.returncode == 0, made.stderr
    key = "00112233445566778899AABBCCDDEEFF"
    added = helppoint(
        "sia", "add", "12ab", "--unit", "HP-10", "--key", key, "--zone", "7=HP-11", db=db
    )
    assert added.returncode == 0, added.stderr
    assert "DC-09 account 12AB (AES) reports for HP-10; zone 7 → HP-11" in added.stdout
    listed = helppoint("sia", "list", db=db)
    assert "12AB" in listed.stdout and "7=HP-11" in listed.stdout and key not in listed.stdout
    assert helppoint("sia", "disable", "12ab", db=db).returncode == 0
    assert "disabled" in helppoint("sia", "list", db=db).stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sia", "add", "XYZ", "--unit", "HP-10"], "3-16 hex digits"),
        (["sia", "add", "1234", "--unit", "NOPE"], "unit 'NOPE' does not exist"),
        (["sia", "add", "1234", "--unit", "HP-10", "--key", "abc"], "AES key"),
        (["sia", "add", "1234", "--unit", "HP-10", "--zone", "7"], "give ZONE=UNIT"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(
    tmp_path: Path, args: list[str], message: str
) -> None:
    db = tmp_path / "cli.sqlite"
    helppoint("zone", "add", "park", "--name", "Park", db=db)
    helppoint(
        "unit", "add", "HP-10", "--name", "x", "--zone", "park", "--lat", "1", "--lon", "1", db=db
    )
    result = helppoint(*args, db=db)
    assert result.returncode != 0
    assert message in result.stderr


def test_codes_and_handle(tmp_path: Path) -> None:
    db = tmp_path / "cli.sqlite"
    listed = helppoint("sia", "codes", db=db)
    assert listed.returncode == 0, listed.stderr
    [intrusion] = [line for line in listed.stdout.splitlines() if line.startswith("intrusion")]
    assert intrusion.split()[:3] == ["intrusion", "incident", "activation"]
    handled = helppoint("sia", "handle", "intrusion", "supervision", db=db)
    assert handled.returncode == 0, handled.stderr
    assert "intrusion events (burglary (intrusion)) are now handled as supervision" in (
        handled.stdout
    )
    listed = helppoint("sia", "codes", "--codes", db=db)
    [intrusion] = [line for line in listed.stdout.splitlines() if line.startswith("intrusion")]
    assert intrusion.split()[:2] == ["intrusion", "supervision"] and "set by cli" in intrusion
    assert "BA" in listed.stdout.split("intrusion", 1)[1].split("\n", 3)[1]
    refused = helppoint("sia", "handle", "open_close", "incident", db=db)
    assert refused.returncode != 0 and "can be handled as log, not incident" in refused.stderr
