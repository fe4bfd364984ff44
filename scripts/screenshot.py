#!/usr/bin/env python3
"""Take the README's console screenshot in the real browser, from a real demo.

    .venv/bin/python scripts/screenshot.py [docs/console.png]

Starts `helppoint demo` (no random presses), signs in with Playwright driving Debian's
Chromium, presses three simulated units through the demo API, acknowledges one, and saves a
1440x900 screenshot of the console.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/console.png")
    port = free_port()
    data = tempfile.mkdtemp(prefix="helppoint-shot-")
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "helppoint.cli",
            "demo",
            "--port",
            str(port),
            "--press-every",
            "0",
            "--data-dir",
            data,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline or demo.poll() is not None:
                    raise SystemExit("the demo did not start") from None
                time.sleep(0.1)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(
                viewport={"width": 1440, "height": 900},
                locale="en-GB",
                timezone_id="Europe/London",
            )
            page.goto(f"{base}/login")
            page.fill("input[name=username]", "demo")
            page.fill("input[name=password]", "demo-operator")
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            page.wait_for_function(
                "fetch('/api/units').then(r => r.json()).then(u => u.every(x => x.connected))"
            )
            # Changes need the CSRF token the console sends (docs/security.md).
            token = next(
                c["value"] for c in page.context.cookies() if c["name"] == "helppoint_csrf"
            )
            headers = {"X-CSRF-Token": token, "Origin": base}
            for unit in ("HP-03", "HP-05", "HP-07"):
                page.request.post(f"{base}/api/demo/press/{unit}", headers=headers)
                time.sleep(0.7)
            page.request.post(f"{base}/api/demo/press/HP-03", headers=headers)
            page.wait_for_selector("#queue li[data-id]", timeout=15000)
            page.wait_for_function("document.querySelectorAll('#queue li[data-id]').length >= 3")
            page.keyboard.press("Escape")
            first = page.locator("#queue li[data-id]").first
            first.click()
            page.keyboard.press("a")
            page.wait_for_timeout(1500)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
            browser.close()
        print(f"saved {out}")
        return 0
    finally:
        demo.terminate()
        demo.wait(timeout=15)


if __name__ == "__main__":
    sys.exit(main())
