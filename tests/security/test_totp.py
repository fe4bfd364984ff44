"""Operator two-factor sign-in: enrolment, codes, recovery codes, role policy, admin reset."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import httpx
import pyotp
import pytest

from helppoint.domain.errors import InvalidInput
from helppoint.domain.model import Role
from helppoint.services import operators as operator_service
from helppoint.services import totp
from helppoint.services.operators import SignInExpired, add_operator
from tests.cli import inprocess
from tests.conftest import Database, LiveServer, http_client

PASSWORD = "correct horse battery"
HOUR = timedelta(hours=1)


def _login(database: Database, username: str = "tess") -> operator_service.SignedIn:
    return operator_service.login(database.uow(), username, PASSWORD, HOUR, "10.0.0.5")


def _complete(database: Database, token: str, code: str) -> operator_service.SecondFactorDone:
    return operator_service.complete_sign_in(database.uow(), token, code, HOUR, "10.0.0.5")


def _enrolled(database: Database, username: str = "tess") -> tuple[pyotp.TOTP, list[str]]:
    add_operator(database.uow(), username, PASSWORD, Role.OPERATOR)
    enrolment = totp.begin_enrolment(database.uow(), username)
    app = pyotp.TOTP(enrolment.secret)
    codes = totp.confirm_enrolment(database.uow(), username, app.now())
    return app, codes


def _next_code(app: pyotp.TOTP) -> str:
    """The code of the next 30 s step (accepted for clock drift; the current one is used up)."""
    return app.at(datetime.now(UTC) + timedelta(seconds=app.interval))


def _audit(database: Database) -> list[str]:
    with database.uow() as uow:
        return [e.action for e in uow.audit.in_chain_order()]


def test_enrolment_is_off_until_a_code_confirms_it(database: Database) -> None:
    add_operator(database.uow(), "tess", PASSWORD, Role.OPERATOR)
    enrolment = totp.begin_enrolment(database.uow(), "tess")
    assert enrolment.uri.startswith("otpauth://totp/helppoint:tess?secret=")
    assert enrolment.qr_svg_data_uri.startswith("data:image/svg+xml")
    assert not _login(database).two_factor_pending  # not on yet
    with pytest.raises(totp.TwoFactorFailed):
        totp.confirm_enrolment(database.uow(), "tess", "000000")
    assert not _login(database).two_factor_pending
    codes = totp.confirm_enrolment(database.uow(), "tess", pyotp.TOTP(enrolment.secret).now())
    assert len(codes) == totp.RECOVERY_CODE_COUNT == len(set(codes))
    assert _login(database).two_factor_pending
    assert "user.2fa_enabled" in _audit(database)
    with pytest.raises(InvalidInput):
        totp.begin_enrolment(database.uow(), "tess")


def test_sign_in_needs_the_password_then_the_code(database: Database) -> None:
    app, _ = _enrolled(database)
    pending = _login(database)
    assert pending.two_factor_pending and not pending.must_enrol
    # the pending token is no session
    assert operator_service.operator_for_session(database.uow(), pending.token) is None
    code = _next_code(app)
    with pytest.raises(totp.TwoFactorFailed):
        _complete(database, pending.token, "123456" if code != "123456" else "654321")
    done = _complete(database, pending.token, code)
    session = done.signed_in.token
    assert operator_service.operator_for_session(database.uow(), session) is not None
    with pytest.raises(SignInExpired):  # a pending sign-in is used once
        _complete(database, pending.token, code)


def test_a_code_cannot_be_used_twice(database: Database) -> None:
    add_operator(database.uow(), "tess", PASSWORD, Role.OPERATOR)
    enrolment = totp.begin_enrolment(database.uow(), "tess")
    # The very code enrolment used (not "the current one" again: the 30 s step may have moved on).
    code = pyotp.TOTP(enrolment.secret).now()
    totp.confirm_enrolment(database.uow(), "tess", code)
    with pytest.raises(totp.TwoFactorFailed):
        _complete(database, _login(database).token, code)


def test_a_recovery_code_works_once(database: Database) -> None:
    _, codes = _enrolled(database)
    done = _complete(database, _login(database).token, codes[0].upper())
    assert done.signed_in.operator.username == "tess"
    with pytest.raises(totp.TwoFactorFailed):
        _complete(database, _login(database).token, codes[0])
    assert totp.remaining_recovery_codes(database.uow(), "tess") == len(codes) - 1


def test_recovery_codes_are_argon2id_hashes_a_busy_server_makes_quickly(database: Database) -> None:
    # Ten made at enrolment, up to ten checked per typed code: with the password hasher's
    # parameters that was over 10 s per request on a loaded 2-core machine (the JSON sign-in
    # test below timed out). A code's 49 random bits need no slow hash to resist guessing.
    _enrolled(database)
    with database.session() as session:
        hashes = [row.code_hash for row in session.query(totp.RecoveryCode)]
    assert len(hashes) == totp.RECOVERY_CODE_COUNT
    assert all(h.startswith("$argon2id$v=19$m=8192,t=1,p=1$") for h in hashes)


def test_recovery_codes_hashed_as_before_still_work(database: Database) -> None:
    from argon2 import PasswordHasher

    _, codes = _enrolled(database)
    with database.session() as session:
        for row, code in zip(session.query(totp.RecoveryCode), codes, strict=True):
            row.code_hash = PasswordHasher().hash(code)
        session.commit()
    done = _complete(database, _login(database).token, codes[3])
    assert done.signed_in.operator.username == "tess"


def test_too_many_wrong_codes_end_the_pending_sign_in(database: Database) -> None:
    app, _ = _enrolled(database)
    token = _login(database).token
    for _ in range(operator_service.PENDING_MAX_FAILURES - 1):
        with pytest.raises(totp.TwoFactorFailed):
            _complete(database, token, "99999x")
    with pytest.raises(SignInExpired):
        _complete(database, token, "99999x")
    with pytest.raises(SignInExpired):
        _complete(database, token, _next_code(app))


def test_a_role_can_require_two_factor_and_users_enrol_at_sign_in(database: Database) -> None:
    add_operator(database.uow(), "ursula", PASSWORD, Role.SUPERVISOR)
    add_operator(database.uow(), "olly", PASSWORD, Role.OPERATOR)
    totp.set_role_policy(database.uow(), Role.SUPERVISOR, True, actor="root")
    assert totp.role_policies(database.uow())["supervisor"] is True
    assert not _login(database, "olly").two_factor_pending  # other roles unaffected
    pending = _login(database, "ursula")
    assert pending.two_factor_pending and pending.must_enrol
    enrolment = operator_service.pending_enrolment(database.uow(), pending.token)
    again = operator_service.pending_enrolment(database.uow(), pending.token)
    assert again.secret == enrolment.secret  # reloading the page keeps the secret
    done = _complete(database, pending.token, pyotp.TOTP(enrolment.secret).now())
    assert len(done.recovery_codes) == totp.RECOVERY_CODE_COUNT
    assert operator_service.operator_for_session(database.uow(), done.signed_in.token)
    assert "role.2fa_required" in _audit(database)


def test_an_admin_reset_turns_two_factor_off_and_is_audited(database: Database) -> None:
    _enrolled(database)
    totp.reset(database.uow(), "tess", actor="root", address="10.9.0.1")
    assert not _login(database).two_factor_pending
    assert totp.remaining_recovery_codes(database.uow(), "tess") == 0
    with database.uow() as uow:
        entry = next(e for e in uow.audit.in_chain_order() if e.action == "user.2fa_reset")
    assert entry.actor == "root" and entry.detail == {"user": "tess", "was_on": True}


def test_the_json_api_signs_in_with_two_factor(live_server: LiveServer) -> None:
    live_server.add_operator("vera", PASSWORD, Role.ADMIN)
    admin = http_client(live_server.base_url, timeout=None)
    assert admin.post("/api/login", json={"username": "vera", "password": PASSWORD}).is_success
    live_server.add_operator("walt", PASSWORD, Role.OPERATOR)
    policy = admin.put("/api/admin/roles/operator/two-factor", json={"require_two_factor": True})
    assert policy.status_code == 200
    assert admin.get("/api/admin/security").json()["roles"]["operator"] is True
    walt = http_client(live_server.base_url, timeout=None)
    first = walt.post("/api/login", json={"username": "walt", "password": PASSWORD})
    assert first.json() == {"two_factor": "enrol"}
    assert walt.get("/api/me").status_code == 401
    secret = walt.get("/api/login/2fa/enrolment").json()["secret"]
    assert walt.post("/api/login/2fa", json={"code": "000000"}).status_code == 401
    done = walt.post("/api/login/2fa", json={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200 and len(done.json()["recovery_codes"]) == 10
    assert walt.get("/api/me").json()["username"] == "walt"
    # the admin resets it (lost phone): walt must enrol again
    assert admin.post("/api/admin/users/walt/2fa/reset").json() == {"ok": True}
    again = http_client(live_server.base_url, timeout=None)
    assert again.post("/api/login", json={"username": "walt", "password": PASSWORD}).json() == {
        "two_factor": "enrol"
    }
    # only an administrator may do this
    assert walt.post("/api/admin/users/vera/2fa/reset").status_code == 403


def test_the_demo_login_needs_no_second_factor(live_server: LiveServer) -> None:
    from helppoint.cli import DEMO_PASSWORD, DEMO_USER

    live_server.add_operator(DEMO_USER, DEMO_PASSWORD, Role.ADMIN)
    http = httpx.Client(base_url=live_server.base_url, timeout=None)
    answer = http.post("/login", data={"username": DEMO_USER, "password": DEMO_PASSWORD})
    assert answer.status_code == 303 and answer.headers["location"] == "/"


def test_cli_manages_two_factor_and_lockouts(sqlite_database: Database) -> None:
    add_operator(sqlite_database.uow(), "xavi", PASSWORD, Role.OPERATOR)
    totp.begin_enrolment(sqlite_database.uow(), "xavi")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return inprocess.run(["user", *args, "--database-url", sqlite_database.url])

    required = run("require-2fa", "police")
    assert required.returncode == 0, required.stderr
    assert "required for role police" in required.stdout
    assert totp.role_policies(sqlite_database.uow())["police"] is True
    assert run("2fa-reset", "xavi").returncode == 0
    assert run("unlock", "xavi").stdout.strip() == "user xavi was not locked (failures cleared)"
    bad = run("require-2fa", "janitor")
    assert bad.returncode != 0 and "unknown role" in bad.stderr
    assert "no account or address is locked" in run("locked").stdout
