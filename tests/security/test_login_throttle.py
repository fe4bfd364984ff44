"""Login rate limiting and lockout: per account and per address, shared by every process."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from helppoint.config import Settings
from helppoint.domain.model import Role
from helppoint.services import login_throttle
from helppoint.services import operators as operator_service
from helppoint.services.login_throttle import LoginLocked, ThrottlePolicies
from helppoint.services.operators import LoginFailed, add_operator
from tests.conftest import Database, LiveServer, http_client

PASSWORD = "correct horse battery"
POLICIES = ThrottlePolicies.from_settings(
    Settings().with_values(
        {"login_max_failures": 3, "login_address_max_failures": 5, "login_lockout_seconds": 600}
    )
)


def _login(database: Database, username: str, password: str, address: str = "10.1.1.1") -> Any:
    return operator_service.login(
        database.uow(), username, password, timedelta(hours=1), address, throttle=POLICIES
    )


def _fail(database: Database, username: str, times: int, address: str = "10.1.1.1") -> None:
    for _ in range(times):
        with pytest.raises((LoginFailed, LoginLocked)):
            _login(database, username, "wrong password!", address)


def test_an_account_locks_after_too_many_failures(database: Database) -> None:
    add_operator(database.uow(), "vic", PASSWORD, Role.OPERATOR)
    _fail(database, "vic", 2)
    assert _login(database, "vic", PASSWORD).operator.username == "vic"  # resets the count
    _fail(database, "vic", 2)
    with pytest.raises(LoginLocked) as locked:
        _login(database, "vic", "wrong password!")
    assert "Try again in 10 minutes" in str(locked.value)
    with pytest.raises(LoginLocked):  # even the right password, while locked
        _login(database, "vic", PASSWORD, address="10.9.9.9")
    with database.uow() as uow:
        locks = [
            e.detail["key"] for e in uow.audit.in_chain_order() if e.action == "user.locked_out"
        ]
    # five failures from one address also reached the address limit
    assert locks == ["user:vic", "addr:10.1.1.1"]


def test_unknown_and_real_accounts_lock_alike(database: Database) -> None:
    add_operator(database.uow(), "wendy", PASSWORD, Role.OPERATOR)
    answers = []
    for username in ("wendy", "nobody"):
        kinds = []
        for _ in range(4):
            try:
                _login(database, username, "wrong password!", address=f"10.2.0.{len(answers)}")
            except (LoginFailed, LoginLocked) as exc:
                kinds.append((type(exc).__name__, str(exc) if isinstance(exc, LoginLocked) else ""))
        answers.append(kinds)
    assert answers[0] == answers[1]
    assert answers[0][-1][0] == "LoginLocked"


def test_one_address_trying_many_accounts_is_blocked(database: Database) -> None:
    add_operator(database.uow(), "xena", PASSWORD, Role.OPERATOR)
    for n in range(5):
        _fail(database, f"guess{n}", 1, address="192.0.2.7")
    with pytest.raises(LoginLocked):
        _login(database, "xena", PASSWORD, address="192.0.2.7")
    assert _login(database, "xena", PASSWORD, address="192.0.2.8").operator.username == "xena"


def test_an_admin_unlock_lets_the_user_in_and_is_audited(database: Database) -> None:
    add_operator(database.uow(), "yan", PASSWORD, Role.OPERATOR)
    _fail(database, "yan", 3)
    with pytest.raises(LoginLocked):
        _login(database, "yan", PASSWORD)
    assert [lock["key"] for lock in login_throttle.locked_keys(database.uow())] == ["user:yan"]
    assert login_throttle.unlock(database.uow(), username="yan", actor="root") is True
    assert _login(database, "yan", PASSWORD).operator.username == "yan"
    with database.uow() as uow:
        unlocked = [e for e in uow.audit.in_chain_order() if e.action == "user.unlocked"]
    assert unlocked[0].actor == "root" and unlocked[0].detail["key"] == "user:yan"


def test_unlocking_nothing_is_a_clear_error(database: Database) -> None:
    from helppoint.domain.errors import InvalidInput, NotFound

    with pytest.raises(InvalidInput):
        login_throttle.unlock(database.uow())
    with pytest.raises(NotFound):
        login_throttle.unlock(database.uow(), username="ghost")


def _api_login(http: httpx.Client, username: str, password: str) -> httpx.Response:
    return http.post("/api/login", json={"username": username, "password": password})


def test_the_lockout_holds_across_server_processes(server_factory: Callable[..., Any]) -> None:
    """Two servers on one database: failures at one lock the account at the other."""
    settings = {"login_max_failures": 3}
    first: LiveServer = server_factory(**settings)
    second: LiveServer = server_factory(**settings)
    first.add_operator("zoe", PASSWORD)
    a = http_client(first.base_url, timeout=None)
    b = http_client(second.base_url, timeout=None)
    assert _api_login(a, "zoe", "nope-nope").status_code == 401
    assert _api_login(b, "zoe", "nope-nope").status_code == 401
    locked = _api_login(a, "zoe", "nope-nope")
    assert locked.status_code == 429
    refused = _api_login(b, "zoe", PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed sign-ins" in refused.json()["detail"]
    # the same answer for an account that does not exist
    for _ in range(3):
        last = _api_login(b, "no-such-user", "nope-nope")
    assert last.status_code == 429 and last.json() == locked.json()


def test_the_login_form_says_so_and_an_admin_unlocks(live_server: LiveServer) -> None:
    live_server.add_operator("amy", PASSWORD)
    live_server.add_operator("boss", PASSWORD, Role.ADMIN)
    browser = httpx.Client(base_url=live_server.base_url, timeout=None)
    for _ in range(5):
        page = browser.post("/login", data={"username": "amy", "password": "nope-nope"})
    assert page.status_code == 429
    assert "Too many failed sign-ins" in page.text
    admin = http_client(live_server.base_url, timeout=None)
    assert _api_login(admin, "boss", PASSWORD).status_code == 200
    operator = http_client(live_server.base_url, timeout=None)
    assert _api_login(operator, "amy", PASSWORD).status_code == 429
    assert admin.post("/api/admin/unlock", json={"username": "amy"}).json() == {"was_locked": True}
    assert _api_login(operator, "amy", PASSWORD).status_code == 200
