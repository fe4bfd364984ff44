"""Every page loads under the strict CSP with no violation and no console error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from helppoint.domain.model import Role
from tests.e2e.harness import UNREACHABLE_TILES

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
TILES_ORIGIN = "http://127.0.0.1:9"
#: Signed-in pages by the role that can open them (the admin can open all console pages).
PAGES: dict[Role, list[str]] = {
    Role.ADMIN: [
        "/",
        "/history",
        "/health-board",
        "/supervisor",
        "/admin/plans",
        "/admin/routes",
        "/admin/prompts",
        "/units/HP-01/config",
        "/audit",
        "/reports",
        "/account/security",
    ],
    Role.POLICE: ["/police"],
    Role.AUDITOR: ["/audit"],
}
PUBLIC_PAGES = ["/login", "/help-points", "/p/HP-01"]
#: The public "no such help point" page is itself a 404 (the browser logs that as an error).
NOT_FOUND_PAGE = "/p/NO-SUCH-UNIT"
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`
    + ` at ${e.sourceFile}:${e.lineNumber}`);
});
"""


class Watched:
    """A page whose console errors, page errors and CSP violations are collected."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        page.add_init_script(WATCH_CSP)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        if message.location.get("url", "").startswith(TILES_ORIGIN):
            return  # map tiles are unreachable on purpose (no internet in tests)
        self.problems.append(f"console error: {message.text} ({message.location})")

    def visit(self, url: str, status: int = 200) -> list[str]:
        self.problems.clear()
        response = self.page.goto(url, wait_until="load")
        assert response is not None and response.status == status, url
        self.page.wait_for_load_state("networkidle")
        violations: list[str] = self.page.evaluate("window.__cspViolations")
        problems = self.problems
        if status != 200:  # the browser reports the page's own status as an error
            problems = [p for p in problems if f"status of {status}" not in p]
        return [f"{url}: {p}" for p in [*problems, *violations]]


def sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login", wait_until="domcontentloaded")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#current-user")).to_have_attribute("data-username", username)


@pytest.fixture
def server(server_factory: Callable[..., Any]) -> Any:
    return server_factory(map_tiles_url=UNREACHABLE_TILES, supervision=False)


def test_every_page_loads_without_csp_violations_or_console_errors(
    browser: Browser, server: Any
) -> None:
    problems: list[str] = []
    for role, paths in PAGES.items():
        username = f"csp-{role.value}"
        server.add_operator(username, PASSWORD, role)
        context = browser.new_context()
        try:
            watched = Watched(context.new_page())
            sign_in(watched.page, server.base_url, username)
            for path in paths:
                problems += watched.visit(server.base_url + path)
        finally:
            context.close()
    context = browser.new_context()
    try:
        watched = Watched(context.new_page())
        for path in PUBLIC_PAGES:
            problems += watched.visit(server.base_url + path)
        problems += watched.visit(server.base_url + NOT_FOUND_PAGE, status=404)
    finally:
        context.close()
    assert problems == []


def test_the_policy_really_blocks_inline_script(browser: Browser, server: Any) -> None:
    """The check above can fail: an injected inline script is refused and reported."""
    context = browser.new_context()
    try:
        watched = Watched(context.new_page())
        watched.visit(server.base_url + "/help-points")
        watched.page.evaluate(
            """() => { const s = document.createElement("script");
                       s.textContent = "window.__ran = true"; document.body.append(s); }"""
        )
        expect(watched.page.locator("body")).to_be_visible()
        assert watched.page.evaluate("window.__ran === undefined")
        violations = watched.page.evaluate("window.__cspViolations")
        assert any("script-src" in v for v in violations)
    finally:
        context.close()


def test_sign_out_form_carries_the_csrf_token(browser: Browser, server: Any) -> None:
    server.add_operator("leaver", PASSWORD, Role.OPERATOR)
    context = browser.new_context()
    try:
        page = context.new_page()
        sign_in(page, server.base_url, "leaver")
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(f"{server.base_url}/login")
        page.goto(f"{server.base_url}/history")
        expect(page).to_have_url(f"{server.base_url}/login?next=/history")
    finally:
        context.close()


def test_two_factor_enrolment_and_sign_in_in_the_browser(browser: Browser, server: Any) -> None:
    """A role that must use two-factor: enrol at first sign-in, then sign in with a code."""
    import pyotp

    from helppoint.services import totp

    totp.set_role_policy(server.database.uow(), Role.SUPERVISOR, True)
    server.add_operator("sunita", PASSWORD, Role.SUPERVISOR)
    context = browser.new_context()
    try:
        watched = Watched(context.new_page())
        page = watched.page
        problems = watched.visit(f"{server.base_url}/login")
        page.get_by_label("Username").fill("sunita")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{server.base_url}/login/2fa?next=/")
        qr = page.get_by_alt_text("QR code for your authenticator app")
        expect(qr).to_be_visible()
        assert qr.evaluate("img => img.complete && img.naturalWidth > 0")  # not blocked
        problems += [f"/login/2fa: {v}" for v in page.evaluate("window.__cspViolations")]
        app = pyotp.TOTP(page.locator("#totp-secret").inner_text())
        page.get_by_label("Code").fill("000000" if app.now() != "000000" else "111111")
        page.get_by_role("button", name="Turn on and sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("That code is not right")
        page.get_by_label("Code").fill(app.now())
        page.get_by_role("button", name="Turn on and sign in").click()
        expect(page.locator("#recovery-codes li")).to_have_count(totp.RECOVERY_CODE_COUNT)
        page.get_by_role("link", name="I have saved them: continue").click()
        expect(page.locator("#current-user")).to_have_attribute("data-username", "sunita")
        problems += watched.visit(f"{server.base_url}/account/security")
        expect(page.locator("#twofa-status")).to_contain_text("on")
        violations: list[str] = page.evaluate("window.__cspViolations")
        assert [*problems, *violations] == []
    finally:
        context.close()
