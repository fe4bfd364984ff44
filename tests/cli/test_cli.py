"""The `helppoint` command line: run in this process (tests/cli/inprocess.py) where a test is
about what a command does, as a real subprocess where it is about the process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import inprocess

COMMANDS = [
    [],
    ["demo"],
    ["serve"],
    ["migrate"],
    ["user", "add"],
    ["user", "list"],
    ["zone", "add"],
    ["unit", "add"],
    ["unit", "list"],
    ["agent"],
    ["simulate"],
    ["audit", "verify"],
    ["audit", "export"],
    ["plan", "check"],
    ["plan", "import"],
    ["plan", "export"],
    ["plan", "list"],
    ["plan", "example"],
    ["camera", "add"],
    ["camera", "link"],
    ["camera", "list"],
]


def helppoint(
    *args: str, db: Path | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`helppoint ARGS` (on the SQLite database `db`), run in this process."""
    env_args = ["--database-url", f"sqlite:///{db}"] if db else []
    return inprocess.run([*args, *env_args], stdin=stdin)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "helppoint")
def test_every_command_has_help(command: list[str]) -> None:
    result = helppoint(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: helppoint" in result.stdout
    assert len(result.stdout.splitlines()) > 3


def test_provision_and_users(tmp_path: Path) -> None:
    db = tmp_path / "cli.sqlite"
    assert helppoint("migrate", db=db).returncode == 0
    made = helppoint("zone", "add", "park", "--name", "Park", db=db)
    assert made.returncode == 0 and "zone park" in made.stdout
    unit = helppoint(
        "unit",
        "add",
        "HP-10",
        "--name",
        "Gate",
        "--zone",
        "park",
        "--lat",
        "52.24",
        "--lon",
        "-0.89",
        "--json",
        db=db,
    )
    assert unit.returncode == 0, unit.stderr
    issued = json.loads(unit.stdout)
    assert issued["unit"] == "HP-10" and len(issued["key"]) >= 40
    listed = helppoint("unit", "list", db=db)
    assert "HP-10" in listed.stdout and "never" in listed.stdout
    added = helppoint(
        "user",
        "add",
        "carol",
        "--role",
        "supervisor",
        "--password-stdin",
        db=db,
        stdin="a long enough password\n",
    )
    assert added.returncode == 0, added.stderr
    assert "carol" in helppoint("user", "list", db=db).stdout


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ["user", "add", "dave", "--role", "king", "--password-stdin"],
            "password123\n",
            "unknown role 'king'",
        ),
        (["user", "add", "dave", "--password-stdin"], "short\n", "at least 8 characters"),
        (
            ["unit", "add", "HP 1", "--name", "x", "--zone", "park", "--lat", "1", "--lon", "1"],
            "",
            "unit id must be",
        ),
        (
            ["unit", "add", "HP-1", "--name", "x", "--zone", "nowhere", "--lat", "1", "--lon", "1"],
            "",
            "zone 'nowhere' does not exist",
        ),
        (
            ["unit", "add", "HP-1", "--name", "x", "--zone", "park", "--lat", "91", "--lon", "1"],
            "",
            "not on Earth",
        ),
    ],
)
def test_bad_input_is_a_clear_error(
    tmp_path: Path, args: list[str], stdin: str, message: str
) -> None:
    db = tmp_path / "cli.sqlite"
    helppoint("zone", "add", "park", "--name", "Park", db=db)
    result = helppoint(*args, db=db, stdin=stdin)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert "HP-1 " not in helppoint("unit", "list", db=db).stdout


def test_bad_database_url_is_a_clear_error() -> None:
    # A real process: `python -m helppoint.cli` starts, and its exit code is the command's.
    result = subprocess.run(
        [sys.executable, "-m", "helppoint.cli", "migrate", "--database-url", "mysql://x/y"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unsupported database 'mysql'" in result.stderr


def test_audit_verify_and_export(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "audit.sqlite"
    for name in ("ann", "ben"):
        added = helppoint("user", "add", name, "--password-stdin", db=db, stdin="pw-123456\n")
        assert added.returncode == 0, added.stderr
    good = helppoint("audit", "verify", db=db)
    assert good.returncode == 0 and "intact" in good.stdout
    exported = helppoint("audit", "export", "--format", "json", db=db)
    assert exported.returncode == 0
    entries = json.loads(exported.stdout)["entries"]
    assert [e["seq"] for e in entries][:2] == [1, 2]
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE audit_entries SET actor = 'mallory' WHERE seq = 2")
    with sqlite3.connect(db) as conn:
        (entry_id,) = conn.execute("SELECT id FROM audit_entries WHERE seq = 2").fetchone()
    bad = helppoint("audit", "verify", db=db)
    assert bad.returncode == 1
    assert f"entry id {entry_id} (seq 2)" in bad.stderr and "altered" in bad.stderr
    refused = helppoint("audit", "export", "--since", "yesterday", db=db)
    assert refused.returncode == 2 and "ISO 8601" in refused.stderr


def test_plan_check_import_export(tmp_path: Path) -> None:
    db = tmp_path / "plans.sqlite"
    assert helppoint("zone", "add", "town-centre", "--name", "Town", db=db).returncode == 0
    example = helppoint("plan", "example")
    assert example.returncode == 0
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(example.stdout.replace("ack_within: 60", "ack_within: soon"))
    bad = helppoint("plan", "import", str(plan_file), db=db)
    assert bad.returncode == 1
    assert f"{plan_file}: line 21 (rules[0].actions[0].ack_within)" in bad.stderr
    assert "not activated" in bad.stderr
    assert helppoint("plan", "list", db=db).stdout == ""
    plan_file.write_text(example.stdout)
    assert helppoint("plan", "check", str(plan_file), db=db).returncode == 0
    good = helppoint("plan", "import", str(plan_file), db=db)
    assert good.returncode == 0 and "version 1" in good.stdout
    assert "town-centre" in helppoint("plan", "list", db=db).stdout
    exported = helppoint("plan", "export", "zone", "town-centre", db=db)
    assert exported.stdout == example.stdout
    missing = helppoint("plan", "export", "unit", "HP-01", db=db)
    assert missing.returncode == 2 and "has no trigger plan" in missing.stderr
