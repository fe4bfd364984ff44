"""Adding SIP help points: the account, what is stored, and what is refused (both databases)."""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
from pathlib import Path

import pytest

from helppoint.domain.errors import InvalidInput
from helppoint.domain.sip import action_target, digest_ha1, parse_light_action
from helppoint.services.seed import seed_demo
from helppoint.services.sip_units import (
    add_sip_unit,
    open_http_account,
    sip_account,
    sip_accounts_of,
)
from helppoint.services.units import revoke_unit
from helppoint.store.sealed import Sealer, SealError
from tests.cli import inprocess
from tests.conftest import Database


def add(database: Database, unit_id: str = "SIP-01", **kw: object) -> object:
    with database.uow() as uow:
        added = add_sip_unit(
            uow,
            unit_id,
            "Gate intercom",
            "racecourse",
            52.23,
            -0.90,
            realm="helppoint",
            keepalive=kw.pop("keepalive", 30),  # type: ignore[arg-type]
            **kw,  # type: ignore[arg-type]
        )
        uow.commit()
    return added


def test_ha1_is_md5_of_user_realm_password() -> None:
    # RFC 2617's HA1 for algorithm MD5, as every SIP device computes it.
    assert (
        digest_ha1("alice", "helppoint", "secret-password")
        == hashlib.md5(b"alice:helppoint:secret-password").hexdigest()
    )


def test_light_actions() -> None:
    assert parse_light_action("dtmf:*1") == ("dtmf", "*1")
    assert parse_light_action(" INFO:5 ") == ("info", "5")
    assert parse_light_action("none") == ("none", "")
    for bad in ("dtmf:", "dtmf:12x", "http:/x", "info:" + "1" * 17, "none:1"):
        with pytest.raises(InvalidInput):
            parse_light_action(bad)


def test_http_light_actions() -> None:
    url = "http://192.0.2.7/api/switch/ctrl?switch=1&action=on"
    assert parse_light_action(f"http:{url}") == ("http", url)
    assert parse_light_action("HTTP:https://[2001:db8::7]:8443/relay") == (
        "http",
        "https://[2001:db8::7]:8443/relay",
    )
    assert action_target(url) == "http://192.0.2.7/api/switch/ctrl"
    bad = [
        "http:ftp://192.0.2.7/relay",  # not HTTP
        "http:192.0.2.7/relay",  # no scheme
        "http:http:///relay",  # no host
        "http:http://192.0.2.7/relay on",  # a space
        "http:http://192.0.2.7/\r\nX: 1",  # header injection
        "http:http://192.0.2.7/\ud800",  # a lone surrogate
        "http:http://[2001:db8::7/relay",  # unparsable address
        "http:http://192.0.2.7:99999/relay",  # no such port
        "http:http://192.0.2.7/" + "x" * 400,  # too long
    ]
    for action in bad:
        with pytest.raises(InvalidInput, match="http:URL"):
            parse_light_action(action)
    with pytest.raises(InvalidInput, match="no account in the URL"):
        parse_light_action("http:http://admin:secret@192.0.2.7/relay")


def test_the_http_account_is_stored_sealed_kept_and_removed(database: Database) -> None:
    seed_demo(database.uow())
    sealer = Sealer(secrets.token_bytes(32))
    action = "http:http://192.0.2.7/api/switch/ctrl?switch=1&action=on"
    add(database, light_on=action, http_user="admin", http_password="relay-pass", sealer=sealer)
    with database.uow() as uow:
        account = sip_account(uow, "SIP-01")
        assert account.light_on == action
        assert account.http_account is not None and "relay-pass" not in account.http_account
        assert open_http_account(account.http_account, "SIP-01", sealer) == ("admin", "relay-pass")
        # Sealed for this unit: another unit's row cannot use it.
        with pytest.raises(SealError):
            open_http_account(account.http_account, "SIP-02", sealer)
        entries, _ = uow.audit.search(action="sip.account_saved", limit=10)
    assert "relay-pass" not in json.dumps([e.detail for e in entries])
    add(database)  # a new SIP password: the HTTP account stays
    with database.uow() as uow:
        kept = sip_account(uow, "SIP-01").http_account
        assert open_http_account(kept, "SIP-01", sealer) == ("admin", "relay-pass")
    add(database, http_user="")  # "" removes it
    with database.uow() as uow:
        assert sip_account(uow, "SIP-01").http_account is None
    for user, password in [("ad:min", "x"), ("admin", "pass\nword"), ("a" * 65, "x")]:
        with pytest.raises(InvalidInput, match="HTTP user name"):
            add(database, http_user=user, http_password=password, sealer=sealer)
    with pytest.raises(InvalidInput, match="credentials key"):
        add(database, http_user="admin", http_password="x")


def test_a_sip_unit_stores_the_ha1_never_the_password(database: Database) -> None:
    seed_demo(database.uow())
    added = add(database, password="a-long-enough-password", light_on="dtmf:*1")
    assert added.username == "SIP-01" and added.password == "a-long-enough-password"  # type: ignore[attr-defined]
    with database.uow() as uow:
        account = sip_account(uow, "SIP-01")
        assert account.ha1 == digest_ha1("SIP-01", "helppoint", "a-long-enough-password")
        assert account.light_on == "dtmf:*1" and account.light_off == "none"
        unit = uow.units.get("SIP-01")
        assert unit is not None and unit.heartbeat_period == 30
        assert [a.unit_id for a in sip_accounts_of(uow)] == ["SIP-01"]
        actions = [e.action for e in uow.audit.list(limit=5)] if hasattr(uow.audit, "list") else []
    assert "a-long-enough-password" not in json.dumps(actions)


def test_srtp_for_calling_back_is_kept_until_changed(database: Database) -> None:
    seed_demo(database.uow())
    add(database)
    with database.uow() as uow:
        assert sip_account(uow, "SIP-01").srtp is False  # plain RTP unless asked
    add(database, srtp=True)
    add(database)  # a new password keeps it
    with database.uow() as uow:
        assert sip_account(uow, "SIP-01").srtp is True
    add(database, srtp=False)
    with database.uow() as uow:
        assert sip_account(uow, "SIP-01").srtp is False


def test_a_generated_password_is_long_and_a_new_one_replaces_it(database: Database) -> None:
    seed_demo(database.uow())
    first = add(database)
    second = add(database)
    assert len(first.password) >= 20 and first.password != second.password  # type: ignore[attr-defined]
    with database.uow() as uow:
        assert sip_account(uow, "SIP-01").ha1 == digest_ha1(
            "SIP-01",
            "helppoint",
            second.password,  # type: ignore[attr-defined]
        )


def test_refusals_change_nothing(database: Database) -> None:
    seed_demo(database.uow())
    add(database, username="gate-1")
    cases: list[tuple[dict[str, object], str]] = [
        ({"unit_id": "SIP-02", "username": "GATE-1"}, "already unit SIP-01's"),
        ({"unit_id": "HP-01"}, "runs the helppoint agent"),
        ({"unit_id": "SIP-02", "password": "short"}, "at least 12"),
        ({"unit_id": "SIP-02", "password": 'quote"inside-long'}, "without quotes"),
        ({"unit_id": "SIP-02", "username": "bad user"}, "letters, digits"),
        ({"unit_id": "SIP-02", "light_on": "blink"}, "a light action"),
    ]
    for arguments, message in cases:
        unit_id = str(arguments.pop("unit_id"))
        with pytest.raises(InvalidInput, match=message):
            add(database, unit_id, **arguments)
    with database.uow() as uow:
        assert uow.units.get("SIP-02") is None
        assert [a.unit_id for a in sip_accounts_of(uow)] == ["SIP-01"]


def test_a_revoked_unit_is_not_loaded(database: Database) -> None:
    seed_demo(database.uow())
    add(database)
    revoke_unit(database.uow(), "SIP-01")
    with database.uow() as uow:
        assert list(sip_accounts_of(uow)) == []


def test_unit_add_kind_sip_prints_the_account_once(tmp_path: Path) -> None:
    db = tmp_path / "cli.sqlite"

    def helppoint(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return inprocess.run(
            [*args, "--database-url", f"sqlite:///{db}"],
            stdin=stdin,
            env={"HELPPOINT_SIP_PORT": "5060", "HELPPOINT_SIP_HOST": "192.0.2.10"},
        )

    assert helppoint("zone", "add", "park", "--name", "Park").returncode == 0
    where = ["--name", "Gate", "--zone", "park", "--lat", "52.2", "--lon", "-0.9"]
    made = helppoint(
        "unit", "add", "SIP-10", *where, "--kind", "sip", "--light-on", "dtmf:*1", "--json"
    )
    assert made.returncode == 0, made.stderr
    account = json.loads(made.stdout)
    assert account["username"] == "SIP-10" and account["realm"] == "helppoint"
    assert account["registrar"] == "192.0.2.10:5060" and len(account["password"]) >= 20
    typed = helppoint(
        "unit",
        "add",
        "SIP-11",
        *where,
        "--kind",
        "sip",
        "--sip-password-stdin",
        stdin="typed-by-the-installer\n",
    )
    assert typed.returncode == 0, typed.stderr
    assert "typed-by-the-installer" in typed.stdout and "registrar  192.0.2.10:5060" in typed.stdout
    refused = helppoint("unit", "add", "SIP-12", *where, "--kind", "sip", "--light-on", "blink")
    assert refused.returncode != 0 and "light action" in refused.stderr
    with_http = helppoint(
        "unit",
        "add",
        "SIP-13",
        *where,
        "--kind",
        "sip",
        "--light-on",
        "http:http://192.0.2.7/api/switch/ctrl?switch=1&action=on",
        "--http-user",
        "admin",
        "--srtp",
        "--sip-password-stdin",
        "--http-password-stdin",
        stdin="typed-by-the-installer\nthe-relay-password\n",
    )
    assert with_http.returncode == 0, with_http.stderr
    assert "the-relay-password" not in with_http.stdout
    assert (tmp_path / "credentials.key").exists()  # sealed with the installation's key
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("cli.sqlite*"))
    assert b"the-relay-password" not in stored
