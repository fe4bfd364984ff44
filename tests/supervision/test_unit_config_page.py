"""The remote configuration page in a real browser, with a real agent answering."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from helppoint.domain.model import Role
from helppoint.sim.fleet import Fleet
from tests.e2e.harness import CHROMIUM, CHROMIUM_ARGS, UNREACHABLE_TILES, Consoles

pytestmark = pytest.mark.browser
expect.set_options(timeout=10_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class AgentThread:
    """A real simulated unit (the agent, its link) on its own event loop thread."""

    def __init__(self, server: Any, unit_id: str, heartbeat: float | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.fleet = Fleet(
            server.device_url,
            [(unit_id, server.key(unit_id))],
            backoff_base=0.01,
            heartbeat_override=heartbeat,
        )
        self._run(self.fleet.start())
        self._run(self.fleet.wait_connected(10))

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(15)

    def stop(self) -> None:
        self._run(self.fleet.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def server(server_factory: Callable[..., Any]) -> Any:
    return server_factory(map_tiles_url=UNREACHABLE_TILES, self_test_at="")


@pytest.fixture
def consoles(browser: Browser, server: Any) -> Iterator[Consoles]:
    opened = Consoles(browser, server)
    yield opened
    opened.close()
    assert not opened.errors, f"JavaScript errors in the page: {opened.errors}"


def signed_in(consoles: Consoles, username: str, role: Role) -> Page:
    consoles.server.add_operator(username, "correct horse battery", role)
    page = consoles.new_page()
    consoles.sign_in(page, username)
    page.wait_for_url(f"{consoles.server.base_url}/")
    return page


def test_admin_configures_a_unit_and_sees_what_it_applied(consoles: Consoles, server: Any) -> None:
    unit = AgentThread(server, "HP-03")
    try:
        page = signed_in(consoles, "ada", Role.ADMIN)
        page.goto(f"{server.base_url}/health-board")
        row = page.locator('#health-rows tr[data-unit="HP-03"]')
        row.get_by_role("link", name="Configure").click()
        page.wait_for_url("**/units/HP-03/config")
        expect(page.locator("#config-status")).to_contain_text("HP-03 is connected")
        expect(page.locator("#applied-rows")).to_contain_text(
            "has not confirmed any remote setting"
        )

        # Bad input is refused in the page and changes nothing.
        page.get_by_label("Volume (%)").fill("150")
        page.get_by_role("button", name="Send to unit").click()
        expect(page.locator("#toasts")).to_contain_text(
            "Volume must be a whole number from 0 to 100"
        )
        expect(page.locator("#history-rows tr")).to_have_count(0)

        page.get_by_label("Heartbeat period (s)").fill("12")
        page.get_by_label("Volume (%)").fill("55")
        page.get_by_label("Prompt “connecting”").fill("Connecting you to the Town Hall CCTV room")
        page.get_by_role("button", name="Send to unit").click()
        history = page.locator("#history-rows tr")
        expect(history).to_have_count(1)
        expect(history.first).to_have_attribute("data-confirmed", "yes")
        expect(history.first.locator(".answer")).to_contain_text("applied (configuration applied)")
        expect(
            page.locator('#applied-rows tr[data-setting="heartbeat_period"] .value')
        ).to_have_text("12 s")
        expect(page.locator('#applied-rows tr[data-setting="volume"] .value')).to_have_text("55 %")
        expect(
            page.locator('#applied-rows tr[data-setting="prompt-connecting"] .value')
        ).to_have_text("Connecting you to the Town Hall CCTV room")
        expect(page.locator("#config-status")).to_contain_text("supervised every 12 s")
        agent = unit.fleet.unit("HP-03").agent
        texts = agent.hardware.speaker.texts  # type: ignore[attr-defined]
        assert texts["connecting"] == "Connecting you to the Town Hall CCTV room"

        # A later request: newest first, and the settings merge.
        page.get_by_label("Press-and-hold (ms)").fill("400")
        page.get_by_role("button", name="Send to unit").click()
        expect(history).to_have_count(2)
        expect(history.first.locator(".applied")).to_have_text("Press-and-hold 400 ms")
        expect(page.locator('#applied-rows tr[data-setting="hold_ms"] .value')).to_have_text(
            "400 ms"
        )
        expect(page.locator('#applied-rows tr[data-setting="volume"] .value')).to_have_text("55 %")
    finally:
        unit.stop()


def test_operators_see_settings_but_cannot_change_them(consoles: Consoles, server: Any) -> None:
    page = signed_in(consoles, "olive", Role.OPERATOR)
    page.goto(f"{server.base_url}/units/HP-02/config")
    expect(page.locator("#config-status")).to_contain_text("HP-02 is not connected")
    expect(page.locator("#change-section")).to_be_hidden()
    missing = page.goto(f"{server.base_url}/units/HP-99/config")
    assert missing is not None and missing.status == 404


def test_health_board_shows_power_uptime_and_runs_a_self_test(
    consoles: Consoles, server: Any
) -> None:
    unit = AgentThread(server, "HP-05", heartbeat=0.2)
    try:
        unit.fleet.set_battery("HP-05", 0.15)
        unit.fleet.inject_fault("HP-05", "camera")
        page = signed_in(consoles, "olive", Role.OPERATOR)
        page.goto(f"{server.base_url}/health-board")
        row = page.locator('#health-rows tr[data-unit="HP-05"]')
        expect(row.locator(".unit-power")).to_have_text("battery 15 %, mains")
        expect(row.locator(".unit-power")).to_have_class("unit-power power-low")
        expect(row.locator(".unit-uptime")).to_have_text("100.00 %")
        expect(row.locator(".unit-uptime-7d")).to_have_text("100.00 %")
        expect(page.locator('#ticket-rows tr[data-unit="HP-05"]')).to_contain_text("battery low")
        row.get_by_role("button", name="Self-test").click()
        expect(row.locator(".unit-self-test")).to_contain_text("failed (camera)")
        expect(page.locator("#ticket-rows")).to_contain_text("failed: camera")
        # A unit without a link cannot be tested.
        expect(
            page.locator('#health-rows tr[data-unit="HP-01"]').get_by_role(
                "button", name="Self-test"
            )
        ).to_be_disabled()
    finally:
        unit.stop()
