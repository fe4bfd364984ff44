"""`helppoint zone | unit | maintainer | self-test | user` administration, as a subprocess:
duplicates refused with a clear message and status 2, states listed, removal and retirement."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli import helppoint

NEW_COMMANDS = [
    ["zone", "list"],
    ["zone", "edit"],
    ["unit", "edit"],
    ["unit", "remove"],
    ["maintainer", "add"],
    ["maintainer", "list"],
    ["maintainer", "remove"],
    ["self-test", "schedule"],
    ["self-test", "list"],
    ["user", "role"],
    ["user", "rename"],
    ["user", "disable"],
    ["user", "enable"],
]


@pytest.mark.parametrize("command", NEW_COMMANDS, ids=" ".join)
def test_new_commands_have_help(command: list[str]) -> None:
    result = helppoint(*command, "--help")
    assert result.returncode == 0 and "usage: helppoint" in result.stdout


def test_zone_and_unit_duplicates_are_refused(tmp_path: Path) -> None:
    db = tmp_path / "cli.sqlite"
    assert helppoint("zone", "add", "park", "--name", "Park", db=db).returncode == 0
    again = helppoint("zone", "add", "park", "--name", "Other", db=db)
    assert again.returncode == 2
    assert "zone 'park' already exists (named 'Park')" in again.stderr
    assert "Park" in helppoint("zone", "list", db=db).stdout
    add = ["unit", "add", "HP-1", "--name", "Gate", "--zone", "park"]
    assert helppoint(*add, "--lat", "52.24", "--lon", "-0.89", db=db).returncode == 0
    twice = helppoint(*add, "--lat", "52.24", "--lon", "-0.89", db=db)
    assert twice.returncode == 2 and "HP-1 already exists" in twice.stderr
    swapped = helppoint("unit", "add", "HP-2", "--name", "X", "--zone", "park", "--lat", "-0.89",
                        "--lon", "52.24", db=db)  # fmt: skip
    assert swapped.returncode == 2 and "look swapped" in swapped.stderr
    assert "HP-2" not in helppoint("unit", "list", db=db).stdout


def test_unit_edit_remove_and_list_states(tmp_path: Path) -> None:
    db = tmp_path / "cli.sqlite"
    helppoint("zone", "add", "park", "--name", "Park", db=db)
    for unit_id, lat in (("HP-1", "52.24"), ("HP-2", "52.25")):
        made = helppoint("unit", "add", unit_id, "--name", unit_id, "--zone", "park", "--lat",
                         lat, "--lon", "-0.89", db=db)  # fmt: skip
        assert made.returncode == 0, made.stderr
    edited = helppoint("unit", "edit", "HP-1", "--name", "Park gate", "--lat", "52.241", db=db)
    assert edited.returncode == 0 and "Park gate" in edited.stdout
    assert helppoint("unit", "revoke", "HP-2", db=db).returncode == 0
    listed = helppoint("unit", "list", db=db).stdout
    assert "Not yet in service" in listed and "Revoked" in listed
    removed = helppoint("unit", "remove", "HP-1", db=db)
    assert removed.returncode == 0 and "deleted" in removed.stdout
    assert "HP-1 " not in helppoint("unit", "list", db=db).stdout


def test_maintainers_self_tests_and_users(tmp_path: Path) -> None:
    db = tmp_path / "cli.sqlite"
    helppoint("zone", "add", "park", "--name", "Park", db=db)
    added = helppoint("maintainer", "add", "Ace", "--email", "fix@example.org", db=db)
    assert added.returncode == 0 and "for every zone" in added.stdout
    bad = helppoint("maintainer", "add", "Ace", "--email", "nope", db=db)
    assert bad.returncode == 2 and "is not an email address" in bad.stderr
    assert "fix@example.org" in helppoint("maintainer", "list", db=db).stdout
    assert helppoint("maintainer", "remove", "1", db=db).returncode == 0
    assert "no maintainers yet" in helppoint("maintainer", "list", db=db).stdout
    scheduled = helppoint("self-test", "schedule", "--zone", "park", "--at", "03:00", db=db)
    assert scheduled.returncode == 0 and "daily at 03:00 Europe/London" in scheduled.stdout
    wrong = helppoint("self-test", "schedule", "--zone", "park", "--at", "25:00", db=db)
    assert wrong.returncode == 2
    assert "zone park" in helppoint("self-test", "list", db=db).stdout
    helppoint("user", "add", "al", "--password-stdin", db=db, stdin="a long password\n")
    assert helppoint("user", "role", "al", "police", db=db).returncode == 0
    assert helppoint("user", "disable", "al", db=db).returncode == 0
    assert "police      al (disabled)" in helppoint("user", "list", db=db).stdout
    renamed = helppoint("user", "rename", "al", "Alice Lee", db=db)
    assert renamed.returncode == 0 and "user al (Alice Lee)" in renamed.stdout
    assert "police      Alice Lee (disabled)" in helppoint("user", "list", db=db).stdout
    nobody = helppoint("user", "rename", "bo", "Bo", db=db)
    assert nobody.returncode == 2 and "bo" in nobody.stderr


def test_agent_takes_config_like_every_command(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    for option in ("--config", "--config-file"):
        result = helppoint("agent", option, str(missing))
        assert result.returncode == 2 and str(missing) in result.stderr, result.stderr
