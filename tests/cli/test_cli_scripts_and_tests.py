"""CLI parity with the API and the admin pages for API tokens (`helppoint token`), units on test
and commissioning tests (`helppoint unit on-test | off-test | commission | commissioning`) and
channel tests (`helppoint channel`): run as a subprocess against a live server's database."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from helppoint.domain.model import AuditEntry, Role
from helppoint.store.tables import audit_entries
from tests.cli.test_cli import helppoint
from tests.conftest import LiveServer
from tests.notify.receivers import HttpReceiver
from tests.web.test_api import client

NEW_COMMANDS = [
    ["token", "create"],
    ["token", "list"],
    ["token", "revoke"],
    ["unit", "on-test"],
    ["unit", "off-test"],
    ["unit", "commission"],
    ["unit", "commissioning"],
    ["channel", "list"],
    ["channel", "test"],
]


@pytest.mark.parametrize("command", NEW_COMMANDS, ids=" ".join)
def test_new_commands_have_help(command: list[str]) -> None:
    result = helppoint(*command, "--help")
    assert result.returncode == 0 and "usage: helppoint" in result.stdout


def db_of(server: LiveServer) -> Path:
    url = server.database.url
    assert url.startswith("sqlite:///"), url
    return Path(url.removeprefix("sqlite:///"))


def audit_actions(server: LiveServer) -> list[tuple[str, str]]:
    with server.database.session() as session:
        entries = session.scalars(select(AuditEntry).order_by(audit_entries.c.seq))
        return [(e.actor, e.action) for e in entries]


def test_a_token_made_on_the_command_line_works_until_revoked(live_server: LiveServer) -> None:
    db = db_of(live_server)
    live_server.add_operator("adam", "a long enough password", Role.ADMIN)
    made = helppoint(
        "token", "create", "adam", "--name", "reports", "--role", "supervisor", "--json", db=db
    )
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)
    assert token["role"] == "supervisor" and token["token"].startswith("hp_")
    script = httpx.Client(
        base_url=live_server.base_url,
        headers={"Authorization": f"Bearer {token['token']}"},
        timeout=None,
    )
    me = script.get("/api/me").json()
    assert me["username"] == "adam" and me["role"] == "supervisor"

    listed = helppoint("token", "list", db=db)
    assert "reports" in listed.stdout and "until revoked" in listed.stdout
    assert token["token"] not in listed.stdout  # never the secret again
    revoked = helppoint("token", "revoke", str(token["id"]), db=db)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert script.get("/api/me").status_code == 401
    assert "revoked" in helppoint("token", "list", "--user", "adam", db=db).stdout
    assert ("cli", "token.created") in audit_actions(live_server)
    assert ("cli", "token.revoked") in audit_actions(live_server)


def test_token_commands_refuse_bad_input_and_change_nothing(tmp_path: Path) -> None:
    db = tmp_path / "cli.sqlite"
    added = helppoint(
        "user", "add", "sam", "--role", "supervisor", "--password-stdin", db=db,
        stdin="a long enough password\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    beyond = helppoint("token", "create", "sam", "--name", "x", "--role", "admin", db=db)
    assert beyond.returncode == 2 and "cannot make a token with the admin role" in beyond.stderr
    nobody = helppoint("token", "create", "bob", "--name", "x", db=db)
    assert nobody.returncode == 2 and "no user 'bob'" in nobody.stderr
    unnamed = helppoint("token", "create", "sam", "--name", " ", db=db)
    assert unnamed.returncode == 2 and "name the token" in unnamed.stderr
    long_lived = helppoint("token", "create", "sam", "--name", "x", "--days", "0", db=db)
    assert long_lived.returncode == 2 and "1-3650 days" in long_lived.stderr
    missing = helppoint("token", "revoke", "7", db=db)
    assert missing.returncode == 2 and "no API token 7" in missing.stderr
    assert "no API tokens" in helppoint("token", "list", db=db).stdout


def test_a_unit_goes_on_test_and_off_test_from_the_command_line(live_server: LiveServer) -> None:
    db = db_of(live_server)
    supervisor = client(live_server, "sue", Role.SUPERVISOR)
    put = helppoint("unit", "on-test", "HP-03", "--minutes", "90", "--reason", "new battery", db=db)
    assert put.returncode == 0, put.stderr
    assert "HP-03 is on test until" in put.stdout and "new battery" in put.stdout
    on_test = supervisor.get("/api/units/on-test").json()
    assert [(u["unit_id"], u["reason"]) for u in on_test] == [("HP-03", "new battery")]

    ended = helppoint("unit", "off-test", "HP-03", db=db)
    assert ended.returncode == 0 and "not on test" in ended.stdout
    assert supervisor.get("/api/units/on-test").json() == []
    again = helppoint("unit", "off-test", "HP-03", db=db)
    assert again.returncode == 2 and "HP-03 is not on test" in again.stderr
    too_long = helppoint("unit", "on-test", "HP-03", "--minutes", "1441", "--reason", "x", db=db)
    assert too_long.returncode == 2 and "1 minute to 24 hours" in too_long.stderr
    unknown = helppoint("unit", "on-test", "HP-99", "--minutes", "5", "--reason", "x", db=db)
    assert unknown.returncode == 2 and "HP-99 does not exist" in unknown.stderr
    assert supervisor.get("/api/units/on-test").json() == []
    assert ("cli", "unit.on_test") in audit_actions(live_server)
    assert ("cli", "unit.test_ended") in audit_actions(live_server)


def test_a_commissioning_test_starts_and_shows_its_checklist(live_server: LiveServer) -> None:
    db = db_of(live_server)
    before = helppoint("unit", "commissioning", "HP-02", db=db)
    assert before.returncode == 0 and "no commissioning test yet" in before.stdout
    started = helppoint("unit", "commission", "HP-02", db=db)
    assert started.returncode == 0, started.stderr
    assert "UTC by cli; on test until" in started.stdout
    assert "[ ] Button pressed" in started.stdout and "not passed yet" in started.stdout
    check = helppoint("unit", "commissioning", "HP-02", "--check", db=db)
    assert check.returncode == 1 and "waiting for a press" in check.stdout
    supervisor = client(live_server, "sue", Role.SUPERVISOR)
    on_test = supervisor.get("/api/units/on-test").json()
    assert [(u["unit_id"], u["reason"]) for u in on_test] == [
        ("HP-02", "commissioning test started by cli")
    ]
    unknown = helppoint("unit", "commission", "HP-99", db=db)
    assert unknown.returncode == 2 and "HP-99 does not exist" in unknown.stderr


def test_a_channel_test_message_reaches_a_webhook_and_a_failure_says_why(
    live_server: LiveServer, http_receiver: HttpReceiver
) -> None:
    db = db_of(live_server)
    sent = helppoint("channel", "test", "webhook", f"{http_receiver.url}/hooks", db=db)
    assert sent.returncode == 0, sent.stderr
    assert "Test message posted to" in sent.stdout and "HTTP 200" in sent.stdout
    assert [json.loads(body)["test"] for body in http_receiver.bodies.values()] == [True]

    http_receiver.fail_next(1, 503)
    failed = helppoint("channel", "test", "webhook", f"{http_receiver.url}/hooks", db=db)
    assert failed.returncode == 2 and "could not be sent" in failed.stderr
    bad = helppoint("channel", "test", "email", "not an address", db=db)
    assert bad.returncode == 2 and failed.stdout == "" and bad.stdout == ""
    tested = [a for a in audit_actions(live_server) if a[1] == "channel.tested"]
    assert tested == [("cli", "channel.tested")] * 2
    assert "no channels" in helppoint("channel", "list", db=db).stdout
