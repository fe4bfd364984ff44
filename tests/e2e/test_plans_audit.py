"""The trigger plan editor (admin) and the audit trail page (auditor) in a real browser."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from helppoint.domain.model import Role

from .harness import PASSWORD, Consoles

pytestmark = pytest.mark.browser


def hold_back(page: Page, script: str, seconds: float = 2.0) -> None:
    """Deliver a page's script `seconds` late, as a busy server would."""

    def late(route: Route) -> None:
        answer = route.fetch()
        time.sleep(seconds)
        route.fulfill(response=answer)

    page.route(f"**/static/{script}", late)


def signed_in(consoles: Consoles, username: str, role: Role, path: str) -> Page:
    consoles.server.add_operator(username, PASSWORD, role)
    page = consoles.new_page()
    consoles.sign_in(page, username)
    page.wait_for_url(f"{consoles.server.base_url}{path}")
    return page


def test_admin_imports_a_plan_only_once_it_is_valid(consoles: Consoles) -> None:
    page = signed_in(consoles, "adam", Role.ADMIN, "/")
    page.get_by_role("link", name="Plans").click()
    page.wait_for_url("**/admin/plans")
    expect(page.locator("#plans-summary")).to_contain_text("No plans yet")
    page.get_by_role("button", name="New from example").click()
    editor = page.locator("#plan-source")
    expect(editor).to_have_value(re.compile("plan: Town centre trigger plan"))
    example = editor.input_value()
    editor.fill(example.replace("ack_within: 60", "ack_within: soon"))
    page.get_by_role("button", name="Save and activate").click()
    expect(page.locator("#plan-result")).to_have_text("Not activated: 1 problem.")
    problem = page.locator("#plan-problems li")
    expect(problem).to_contain_text("Line 21 (rules[0].actions[0].ack_within)")
    expect(problem).to_contain_text("must be a whole number of seconds")
    expect(page.locator("#plans-rows tr[data-plan]")).to_have_count(0)
    problem.get_by_role("button", name="Line 21").click()
    selected = page.evaluate(
        "() => { const t = document.getElementById('plan-source');"
        " return t.value.slice(t.selectionStart, t.selectionEnd); }"
    )
    assert selected.strip() == "ack_within: soon"

    editor.fill(example)
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#plan-result")).to_contain_text("Valid: Town centre trigger plan")
    expect(page.locator("#plans-rows tr[data-plan]")).to_have_count(0)
    page.get_by_role("button", name="Save and activate").click()
    expect(page.locator("#plan-result")).to_contain_text("version 1")
    row = page.locator("#plans-rows tr[data-plan='zone/town-centre']")
    expect(row).to_contain_text("Town centre trigger plan")
    with page.expect_download() as download:
        row.get_by_role("link", name="Export").click()
    path = download.value.path()
    assert path is not None and path.read_text(encoding="utf-8") == example


def test_auditor_reads_verifies_and_exports_the_trail(consoles: Consoles, tmp_path: Any) -> None:
    page = signed_in(consoles, "audrey", Role.AUDITOR, "/audit")
    expect(page.get_by_role("link", name="Audit")).to_have_attribute("aria-current", "page")
    first = page.locator("#audit-rows tr").first
    expect(first).to_contain_text("user.login")
    expect(first).to_contain_text("audrey")
    page.get_by_label("Action starts with").fill("user.login")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#audit-summary")).to_have_text("1 entry")
    page.get_by_role("button", name="Verify chain").click()
    expect(page.locator("#verify-result")).to_contain_text("Chain intact")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    assert download.value.suggested_filename.endswith(".csv")
    path = download.value.path()
    assert path is not None
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "seq,at,actor,action,incident_id,address,detail,prev_hash,hash"
    assert len(lines) == 2 and ",audrey,user.login," in lines[1]


def test_the_editor_buttons_work_from_the_moment_they_can_be_clicked(consoles: Consoles) -> None:
    # The first-day run clicked "New from example" before plans.js had run (a loaded machine):
    # the click was lost and the editor stayed empty. The buttons now come disabled and the
    # script enables them; here the script is held back as a busy server would.
    page = signed_in(consoles, "adam", Role.ADMIN, "/")
    hold_back(page, "plans.js")
    page.goto(f"{consoles.server.base_url}/admin/plans", wait_until="commit")
    page.get_by_role("button", name="New from example").click()
    expect(page.locator("#plan-source")).to_have_value(re.compile("plan: Town centre trigger plan"))


def test_a_pages_script_driven_buttons_take_clicks_only_once_its_script_has_run(
    consoles: Consoles,
) -> None:
    # Every console page: its script's buttons take no clicks until the page's scripts have
    # run (base.html, scripts-run.js), so a click that comes early is not lost.
    page = signed_in(consoles, "aud", Role.AUDITOR, "/audit")
    hold_back(page, "audit.js")
    page.goto(f"{consoles.server.base_url}/audit", wait_until="commit")
    page.get_by_role("button", name="Verify chain").click()
    expect(page.locator("#verify-result")).to_contain_text("Chain intact")


def test_a_plan_file_chosen_before_the_script_has_run_is_loaded(
    consoles: Consoles, tmp_path: Any
) -> None:
    # "Load file…" is a label opening a file input whose choice plans.js reads: like the
    # buttons, it takes no click until the page's scripts have run, so a file chosen early is
    # not lost.
    plan = tmp_path / "town.yaml"
    plan.write_text("plan: From a file\n", encoding="utf-8")
    page = signed_in(consoles, "adam", Role.ADMIN, "/")
    hold_back(page, "plans.js")
    page.goto(f"{consoles.server.base_url}/admin/plans", wait_until="commit")
    with page.expect_file_chooser() as chooser:
        page.get_by_text("Load file…").click()
    chooser.value.set_files(str(plan))
    expect(page.locator("#plan-source")).to_have_value("plan: From a file\n")
    expect(page.locator("#plan-result")).to_contain_text("Loaded town.yaml")
