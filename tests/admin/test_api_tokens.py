"""Personal API tokens: made once, act with their role and no CSRF, refused when revoked,
expired or beyond the owner's role; audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from helppoint.domain.errors import InvalidInput
from helppoint.domain.model import Role
from helppoint.services import api_tokens, operators
from tests.conftest import LiveServer
from tests.web.test_api import client

from .test_admin_pages import browser, form


def test_a_token_acts_with_its_role_without_csrf_or_cookie(live_server: LiveServer) -> None:
    admin = client(live_server, "adam", Role.ADMIN)
    made = admin.post("/api/tokens", json={"name": "reports", "role": "supervisor"})
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    assert token.startswith("hp_") and made.json()["role"] == "supervisor"
    script = httpx.Client(
        base_url=live_server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=None
    )
    me = script.get("/api/me").json()
    assert me["username"] == "adam" and me["role"] == "supervisor"
    assert script.get("/api/health/units").status_code == 200
    refused = script.post("/api/routes", json={"name": "x", "geometry": {}})
    assert refused.status_code == 403  # an admin's supervisor token is no admin
    listed = admin.get("/api/tokens").json()
    assert [t["name"] for t in listed] == ["reports"] and "token" not in listed[0]
    assert listed[0]["last_used_at"] is not None

    assert admin.delete(f"/api/tokens/{made.json()['id']}").status_code == 204
    gone = script.get("/api/me")
    assert gone.status_code == 401 and "revoked or expired" in gone.json()["detail"]


def test_a_token_posts_without_a_csrf_token_but_a_cookie_alone_cannot(
    live_server: LiveServer,
) -> None:
    admin = client(live_server, "adam", Role.ADMIN)
    token = admin.post("/api/tokens", json={"name": "routes"}).json()["token"]
    route = {
        "name": "Lit path",
        "geometry": {"type": "LineString", "coordinates": [[-0.884, 52.246], [-0.895, 52.252]]},
    }
    script = httpx.Client(base_url=live_server.base_url, timeout=None)
    added = script.post("/api/routes", json=route, headers={"Authorization": f"Bearer {token}"})
    assert added.status_code == 201, added.text
    cookie = admin.cookies.get("helppoint_session")
    no_csrf = script.post(
        "/api/routes", json=route, headers={"Cookie": f"helppoint_session={cookie}"}
    )
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["detail"]
    wrong = script.get("/api/me", headers={"Authorization": "Bearer hp_not-a-token"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"


def test_tokens_follow_their_owner(database) -> None:  # type: ignore[no-untyped-def]
    operators.add_operator(database.uow(), "sue", "password-1", Role.SUPERVISOR)
    with database.uow() as uow:
        sue = uow.operators.by_username("sue")
    with pytest.raises(InvalidInput, match="cannot make a token with the admin role"):
        api_tokens.create_token(database.uow(), sue, "too much", Role.ADMIN)
    made = api_tokens.create_token(database.uow(), sue, "board", Role.OPERATOR, days=1)
    assert api_tokens.operator_for_token(database.uow(), made.token).role is Role.OPERATOR
    operators.change_user(database.uow(), "sue", "adam", role=Role.POLICE)
    assert api_tokens.operator_for_token(database.uow(), made.token) is None  # beyond police
    operators.change_user(database.uow(), "sue", "adam", role=Role.SUPERVISOR, active=False)
    assert api_tokens.operator_for_token(database.uow(), made.token) is None  # disabled
    operators.change_user(database.uow(), "sue", "adam", active=True)
    assert api_tokens.operator_for_token(database.uow(), made.token) is not None
    with database.uow() as uow:
        (stored,) = api_tokens.tokens_of(uow, sue)
    later = datetime.now(UTC) + timedelta(days=2)
    assert not stored.usable_at(later)
    assert api_tokens.expires_text(stored, later) == "expired"


def test_the_account_page_shows_a_new_token_once(live_server: LiveServer) -> None:
    http = browser(live_server, "olga", Role.OPERATOR)
    assert 'href="/account/tokens"' in http.get("/account/security").text
    made = form(http, "/account/tokens", name="wallboard", role="operator", days="30")
    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    assert 'id="new-token" class="unit-key" readonly value="hp_' in made.text
    page = http.get("/account/tokens").text
    assert "wallboard" in page and 'id="new-token"' not in page
    too_much = form(http, "/account/tokens", name="x", role="admin")
    assert (
        too_much.status_code == 400 and "cannot make a token with the admin role" in too_much.text
    )
