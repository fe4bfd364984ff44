"""The administration pages over HTTP: forms with the CSRF token, refusals with reasons, the
key shown once, audited changes, a test message really sent, and HTML 403 pages."""

from __future__ import annotations

import re

import httpx
import pyotp

from helppoint.domain.model import Role
from tests.conftest import LiveServer, http_client

PASSWORD = "correct horse battery"


def browser(server: LiveServer, username: str = "adam", role: Role = Role.ADMIN) -> httpx.Client:
    """A client signed in through the login form, as a browser is (cookies, no header)."""
    server.add_operator(username, PASSWORD, role)
    http = httpx.Client(base_url=server.base_url, timeout=None, headers={"Accept": "text/html"})
    login = http.post("/login", data={"username": username, "password": PASSWORD, "next": "/"})
    assert login.status_code == 303, login.text
    return http


def form(http: httpx.Client, path: str, **fields: str) -> httpx.Response:
    """POST a form with the page's CSRF token, as the admin pages' forms do."""
    token = http.cookies.get("helppoint_csrf")
    assert token
    return http.post(path, data={"csrf_token": token, **fields})


def test_zones_and_units_from_the_pages(live_server: LiveServer) -> None:
    http = browser(live_server)
    page = http.get("/admin/zones")
    assert page.status_code == 200 and "<h1>Zones</h1>" in page.text
    added = form(http, "/admin/zones", zone_id="park", name="Abington Park")
    assert added.status_code == 200 and "Zone park (Abington Park) added." in added.text
    again = form(http, "/admin/zones", zone_id="park", name="Other")
    assert again.status_code == 400 and "zone &#39;park&#39; already exists" in again.text

    unit = form(
        http,
        "/admin/units",
        unit_id="HP-20",
        name="Park gate",
        zone_id="park",
        latitude="52.2405",
        longitude="-0.8740",
    )
    assert unit.status_code == 200 and "Unit HP-20 added" in unit.text
    assert unit.headers["cache-control"] == "no-store"
    key = re.search(r'id="unit-key" class="unit-key" readonly value="([^"]+)"', unit.text)
    assert key is not None and len(key.group(1)) >= 40
    listed = http.get("/admin/units").text
    assert "HP-20" in listed and key.group(1) not in listed  # shown once, never again
    assert 'data-unit="HP-20" data-state="not_yet_in_service"' in listed

    swapped = form(
        http,
        "/admin/units",
        unit_id="HP-21",
        name="Swapped",
        zone_id="park",
        latitude="-0.8740",
        longitude="52.2405",
    )
    assert swapped.status_code == 409
    assert "look swapped: did you mean latitude 52.2405, longitude -0.874?" in swapped.text
    assert 'name="confirm_place"' in swapped.text and 'value="Swapped"' in swapped.text
    assert "HP-21" not in http.get("/admin/units").text

    removed = form(http, "/admin/units/HP-20/remove")
    assert "Unit HP-20 deleted" in removed.text
    with live_server.database.uow() as uow:
        assert uow.units.get("HP-20") is None


def test_a_form_without_the_csrf_token_changes_nothing(live_server: LiveServer) -> None:
    http = browser(live_server)
    refused = http.post("/admin/zones", data={"zone_id": "sneaky", "name": "Sneaky"})
    assert refused.status_code == 403
    assert "sneaky" not in http.get("/admin/zones").text


def test_users_page_adds_changes_and_requires_two_factor(live_server: LiveServer) -> None:
    http = browser(live_server)
    added = form(
        http, "/admin/users", username="pc-jones", role="police", password="long enough pw"
    )
    assert "User pc-jones (police) added." in added.text
    changed = form(http, "/admin/users/pc-jones", role="supervisor")
    assert "User pc-jones: supervisor." in changed.text
    self_demote = form(http, "/admin/users/adam", role="operator")
    assert self_demote.status_code == 400 and "your own role" in self_demote.text
    policy = form(http, "/admin/roles/two-factor", require="admin")
    assert "required for: admin." in policy.text
    assert re.search(r'value="admin" checked', http.get("/admin/users").text)


def test_other_roles_get_an_html_403_page_and_the_api_stays_json(live_server: LiveServer) -> None:
    police = browser(live_server, "pc-smith", Role.POLICE)
    page = police.get("/admin/units")
    assert page.status_code == 403 and "text/html" in page.headers["content-type"]
    assert "Only administrators" in page.text
    health = police.get("/health-board")
    assert health.status_code == 403 and "text/html" in health.headers["content-type"]
    assert "Not for your role" in health.text
    history = police.get("/history")
    assert history.status_code == 403 and "Not for your role" in history.text
    for path in ("/admin/plans", "/admin/routes", "/admin/prompts", "/reports", "/supervisor"):
        refused = police.get(path)
        assert refused.status_code == 403 and "Not for your role" in refused.text, path
        assert 'href="/police"' in refused.text  # with the role's own navigation
    nav = police.get("/police").text
    assert 'href="/health-board"' not in nav and 'href="/history"' not in nav
    api = police.get("/api/health/units")
    assert api.status_code == 403 and api.json()["detail"].startswith("your role (police)")


def test_send_a_test_email_through_a_real_smtp_server(server_factory, smtp_receiver) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(smtp_host="127.0.0.1", smtp_port=smtp_receiver.port)
    http = browser(server)
    sent = form(http, "/admin/channels/test", channel="email", target="police@example.org")
    assert sent.status_code == 200, sent.text
    assert "Test email sent to police@example.org" in sent.text
    message = smtp_receiver.messages[""]
    assert message["Subject"] == "[helppoint] Test message: no action needed"
    assert message["X-Helppoint-Test"] == "1"
    assert smtp_receiver.recipients[""] == ["police@example.org"]


def test_a_failing_channel_test_says_why(server_factory, http_receiver) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(smtp_host="127.0.0.1", smtp_port=9)
    http = browser(server)
    failed = form(http, "/admin/channels/test", channel="email", target="police@example.org")
    assert failed.status_code == 400
    assert "could not be sent: ConnectionRefusedError" in failed.text
    posted = form(http, "/admin/channels/test", channel="webhook", target=http_receiver.url)
    assert posted.status_code == 200 and "HTTP 200" in posted.text
    (body,) = http_receiver.bodies.values()
    assert b'"test": true' in body
    bad = form(http, "/admin/channels/test", channel="sms", target="+44123")
    assert bad.status_code == 400 and "by email or to a webhook" in bad.text


def test_maintainers_from_the_page_show_up_as_channels(live_server: LiveServer) -> None:
    http = browser(live_server)
    added = form(
        http, "/admin/maintainers", name="Ace Repairs", channel="email", target="fix@example.org"
    )
    assert "Maintainer Ace Repairs added." in added.text
    bad = form(http, "/admin/maintainers", name="X", channel="email", target="not-an-address")
    assert bad.status_code == 400 and "is not an email address" in bad.text
    channels = http.get("/admin/channels").text
    assert "fix@example.org" in channels and "maintainer Ace Repairs" in channels
    assert "Send a test message to fix@example.org" in channels


def test_empty_lists_say_none_yet(live_server: LiveServer) -> None:
    http = browser(live_server)
    assert "No maintainers yet" in http.get("/admin/maintainers").text
    assert "No SIA accounts yet" in http.get("/admin/sia").text
    assert "No zone or unit schedules yet" in http.get("/admin/self-tests").text


def test_signed_out_pages_send_to_login(live_server: LiveServer) -> None:
    http = http_client(live_server.base_url, timeout=None, headers={"Accept": "text/html"})
    answer = http.get("/admin/units", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/admin/units"


def test_the_channels_page_lists_what_is_sent_not_phone_calls(live_server: LiveServer) -> None:
    from helppoint.services import plans

    http = browser(live_server)
    plans.import_plan(live_server.database.uow(), plans.EXAMPLE_PLAN, "adam")
    page = http.get("/admin/channels").text
    assert "https://cad.police.example/helppoint" in page and "security@bid.example" in page
    assert "town-centre plan: Police" in page
    # The ambulance is telephoned by the operator: no channel sends to 999. (Asked of the
    # channels' targets, not the whole page: its CSRF token, 64 hex digits, holds "999" about
    # one time in 66, which once failed a loaded round.)
    targets = re.findall(r'<td class="break">([^<]*)</td>', page)
    assert "https://cad.police.example/helppoint" in targets
    assert not any("999" in target for target in targets), targets


def test_unit_edit_move_rotate_revoke_and_retire_from_the_pages(live_server: LiveServer) -> None:
    from helppoint.services.units import authenticate_unit

    http = browser(live_server)
    page = http.get("/admin/units/HP-01")
    assert page.status_code == 200 and "Unit HP-01: " in page.text
    moved = form(
        http,
        "/admin/units/HP-01",
        name="Racecourse gate",
        zone_id="town-centre",
        latitude="52.2470",
        longitude="-0.8850",
        description="By the gate",
    )
    assert moved.status_code == 200 and "Unit HP-01 saved." in moved.text
    far = form(
        http,
        "/admin/units/HP-01",
        name="Racecourse gate",
        zone_id="town-centre",
        latitude="51.5072",
        longitude="-0.1276",
    )
    assert far.status_code == 409 and "km from the nearest other unit" in far.text
    confirmed = form(
        http,
        "/admin/units/HP-01",
        name="Racecourse gate",
        zone_id="town-centre",
        latitude="51.5072",
        longitude="-0.1276",
        confirm_place="yes",
    )
    assert "Unit HP-01 saved." in confirmed.text
    rotated = form(http, "/admin/units/HP-02/rotate-key", overlap_hours="0")
    key = re.search(r'id="unit-key" class="unit-key" readonly value="([^"]+)"', rotated.text)
    assert key is not None
    with live_server.database.uow() as uow:
        assert authenticate_unit(uow, "HP-02", key.group(1)).id == "HP-02"
    revoked = form(http, "/admin/units/HP-02/revoke")
    assert "Unit HP-02 revoked" in revoked.text
    assert 'data-unit="HP-02" data-state="revoked"' in revoked.text
    live_server_press(live_server, "HP-03")
    retired = form(http, "/admin/units/HP-03/remove")
    assert "Unit HP-03 retired" in retired.text
    assert 'data-unit="HP-03" data-state="retired"' in retired.text
    assert "HP-03" not in http.get("/help-points").text
    assert http.get("/p/HP-03").status_code == 404
    assert http.get("/help-points/signs.pdf").status_code == 200


def live_server_press(server: LiveServer, unit_id: str) -> None:
    """A press of the unit stored as the device link stores it (gives the unit history)."""
    from datetime import UTC, datetime, timedelta

    from helppoint.domain.events import EventType
    from helppoint.services.ingest import ReportedEvent, handle_device_events

    now = datetime.now(UTC)
    uow = server.database.uow()
    with uow:
        press = ReportedEvent(unit_id, 1, EventType.ACTIVATION, now, {})
        handle_device_events(uow, [press], now, timedelta(minutes=5))
        uow.commit()


def test_zone_rename_sia_accounts_and_schedules_from_the_pages(live_server: LiveServer) -> None:
    http = browser(live_server)
    renamed = form(http, "/admin/zones/town-centre", name="Town centre (BID)", description="")
    assert "Zone town-centre is now named Town centre (BID)." in renamed.text
    sia = form(http, "/admin/sia", account="1A2B", unit_id="HP-04", key_hex="")
    assert "SIA account 1A2B reports for unit HP-04." in sia.text
    bad = form(http, "/admin/sia", account="XYZ!", unit_id="HP-04")
    assert bad.status_code == 400 and "3-16 hex digits" in bad.text
    off = form(http, "/admin/sia/1A2B/deactivate")
    assert "SIA account 1A2B deactivated" in off.text and "deactivated</td>" in off.text
    scheduled = form(
        http, "/admin/self-tests", scope="unit:HP-05", at_time="02:30", timezone="Europe/London"
    )
    assert "Self-test of unit HP-05: off." in scheduled.text  # the box was not ticked
    wrong = form(
        http, "/admin/self-tests", scope="zone:town-centre", at_time="25:00", enabled="yes"
    )
    assert wrong.status_code == 400


def test_users_reset_two_factor_and_unlock_from_the_page(live_server: LiveServer) -> None:
    from helppoint.services import login_throttle, totp
    from helppoint.services.clock import utcnow

    http = browser(live_server)
    live_server.add_operator("bob", PASSWORD, Role.OPERATOR)
    enrolment = totp.begin_enrolment(live_server.database.uow(), "bob")
    totp.confirm_enrolment(live_server.database.uow(), "bob", pyotp.TOTP(enrolment.secret).now())
    policies = login_throttle.ThrottlePolicies.from_settings(live_server.app.state.settings)
    for _ in range(live_server.app.state.settings.login_max_failures):
        uow = live_server.database.uow()
        with uow:
            login_throttle.record_failure(uow, "bob", None, utcnow(), policies)
            uow.commit()
    page = http.get("/admin/users").text
    assert "Reset two-factor of bob" in page and "Unlock bob" in page
    reset = form(http, "/admin/users/bob/2fa-reset")
    assert "Two-factor sign-in of bob reset" in reset.text
    unlocked = form(http, "/admin/users/bob/unlock")
    assert "bob unlocked." in unlocked.text
    assert "Unlock bob" not in unlocked.text and "Reset two-factor of bob" not in unlocked.text


def test_a_page_that_does_not_exist_is_an_html_404_page_and_the_api_stays_json(
    live_server: LiveServer,
) -> None:
    # A mistyped address in a browser gave raw JSON ({"detail":"Not Found"}).
    anonymous = httpx.Client(base_url=live_server.base_url, timeout=None)
    page = anonymous.get("/health", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    assert "<h1>Page not found</h1>" in page.text and 'href="tel:999"' in page.text
    assert 'href="/help-points"' in page.text and 'href="/login"' in page.text
    assert "Content-Security-Policy" in page.headers
    staff = browser(live_server, "olly", Role.OPERATOR)
    missing = staff.get("/<script>alert(1)</script>")
    assert missing.status_code == 404 and "<h1>Page not found</h1>" in missing.text
    assert "&lt;script&gt;" in missing.text and "<script>alert" not in missing.text
    assert "Sign out" in missing.text  # with the operator's own navigation
    assert "Content-Security-Policy" in missing.headers
    # The API, scripts and files keep answering JSON.
    api = staff.get("/api/nothing-here")
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}
    script = anonymous.get("/nothing-here", headers={"Accept": "application/json"})
    assert script.status_code == 404 and script.json() == {"detail": "Not Found"}
