"""Fixtures for the security tests: a browser (Debian Chromium) and signed-in HTTP clients."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from tests.e2e.harness import CHROMIUM, CHROMIUM_ARGS


# Module scope (see tests/e2e/conftest.py): sync Playwright keeps an event loop on the main
# thread while it is open.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()
