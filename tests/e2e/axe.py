"""axe-core (from PyPI's axe-playwright-python) run on a page as it stands."""

from __future__ import annotations

from pathlib import Path

import axe_playwright_python
from playwright.sync_api import Page

AXE_JS = Path(axe_playwright_python.__file__).parent / "axe.min.js"
AA_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def serious_violations(page: Page) -> list[str]:
    """Serious or critical axe-core violations of WCAG 2.2 A/AA on the page as it stands."""
    # Evaluated through the DevTools protocol: an inline <script> would be (rightly) blocked by
    # the page's Content-Security-Policy.
    page.evaluate(AXE_JS.read_text())
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AA_TAGS
    )
    assert result["passes"], "axe-core checked nothing"
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
