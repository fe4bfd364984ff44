"""The page header never pushes Sign out, the sound button or the link status off screen.

An admin's or supervisor's dozen links did, on a 1366 px laptop screen: the header was one
fixed-height row, 1,642 px wide, and Sign out sat 276 px beyond the window's edge.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from helppoint.domain.model import Role

from .harness import Consoles

pytestmark = pytest.mark.browser


def out_of_view(page: Page) -> list[str]:
    """Header controls (links, buttons) not wholly inside the window, by their text."""
    found: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('.site-header a, .site-header button')]
            .filter((e) => e.offsetParent !== null)
            .filter((e) => {
              const r = e.getBoundingClientRect();
              const [w, h] = [window.innerWidth, window.innerHeight];
              return r.left < 0 || r.top < 0 || r.right > w || r.bottom > h;
            })
            .map((e) => e.textContent.trim())"""
    )
    return found


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (1024, 768)])
def test_every_header_control_of_an_admin_is_on_screen(
    consoles: Consoles, console_server: Any, width: int, height: int
) -> None:
    page = consoles.open("adam", Role.ADMIN)
    page.set_viewport_size({"width": width, "height": height})
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert page.locator(".site-nav a").count() >= 10  # every link an admin has
    assert out_of_view(page) == []
    # The console below still fills the rest of the window, with the queue on screen.
    box = page.locator("#queue").bounding_box()
    assert box is not None and box["y"] < height
    for path in ("/history", "/reports", "/admin"):
        page.goto(f"{console_server.base_url}{path}")
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        assert out_of_view(page) == [], path
