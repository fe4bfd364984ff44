#!/usr/bin/env python3
"""The public map's first load on a phone over a slow mobile link, measured in Debian's Chromium.

    .venv/bin/python bench/public_map_load.py [--rounds 3] [--lang en] [--json FILE]

A fresh server (`helppoint serve`, its own process, SQLite) with the demo's eight help points,
one safer route and no map tiles at all (the map must be useful without them). Each round opens
/help-points in a new browser context (empty cache, no service worker yet) on a 390x844 phone
screen, under each network profile in turn, set through the DevTools protocol
(Network.emulateNetworkConditions, which adds its latency to every request):

- "slow-3g": 400 kbit/s down and up, 2,000 ms per request: the "Slow 3G" of Chromium's DevTools
  as Puppeteer's PredefinedNetworkConditions writes it (500 kbit/s x 0.8, 400 ms x 5);
- "3g-400ms": 400 kbit/s, 400 ms per request (a round trip of a slow 3G link, without the
  DevTools preset's factor 5 on latency).

Printed per profile and round, then as the median and spread (lowest-highest) of the rounds:

- bytes: what the page itself transferred (compressed, headers included) until the map was
  drawn, and its number of requests. The service worker's copy for offline use is fetched
  afterwards, by the worker, and is not part of the page's load;
- paint: first contentful paint — the page is usable from then: the "call 999" link, the list
  of help points with their links, and the safer routes are text in the page;
- plain map: the map the server draws in the page (web/plain_map.py: units and safer routes as
  SVG over a plain background, each unit a link to its page) is in the document and a frame
  has been drawn since; it needs no script and no further request;
- interactive map: Leaflet's map drawn with its units and routes (#public-map gets data-ready),
  which replaces the plain one (zoom, "nearest help point", popups).

Not a test: nothing here passes or fails; the budget (<= 200 KB, usable within 3 s) is judged
in docs/performance.md. A busy machine makes the times longer: the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))  # (tests/faults imports tests.ports)

from e2e.harness import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from faults.server_process import ServerProcess  # noqa: E402

from helppoint.services import public as public_service  # noqa: E402
from helppoint.services.seed import seed_demo  # noqa: E402
from helppoint.store.database import make_engine, make_session_factory  # noqa: E402
from helppoint.store.migrate import upgrade  # noqa: E402
from helppoint.store.uow import UnitOfWork  # noqa: E402

PHONE = {"width": 390, "height": 844}
PROFILES = {
    "slow-3g": {"latency": 2000, "kbps": 400},
    "3g-400ms": {"latency": 400, "kbps": 400},
}
MAP_READY = """() => new Promise((resolve) => {
  const el = document.getElementById("public-map");
  const check = () => {
    if (el.dataset.ready) { resolve(performance.now()); return true; }
    return false;
  };
  if (!check()) {
    new MutationObserver((_, observer) => { if (check()) observer.disconnect(); })
      .observe(el, { attributes: true, attributeFilter: ["data-ready"] });
  }
})"""
#: Set before the page's own scripts run: when the plain map the server draws in the page
#: (web/plain_map.py) is in the document, the next frame after it is the time it shows.
PLAIN_PROBE = """window.__plainShown = new Promise((resolve) => {
  const check = () => {
    if (!document.getElementById("plain-map")) return false;
    requestAnimationFrame(() => resolve(performance.now()));
    return true;
  };
  if (!check()) {
    new MutationObserver((_, observer) => { if (check()) observer.disconnect(); })
      .observe(document, { childList: true, subtree: true });
  }
});"""
ROUTE = {
    "type": "LineString",
    "coordinates": [[-0.88414, 52.24682], [-0.88803, 52.24881], [-0.89566, 52.25218]],
}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    uow = lambda: UnitOfWork(make_session_factory(engine))  # noqa: E731
    seed_demo(uow())
    public_service.save_route(uow(), "bench", "Racecourse lit path", ROUTE, "Lit all night")
    engine.dispose()


def one_load(browser: Any, base: str, profile: dict[str, int], lang: str) -> dict[str, float]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.add_init_script(PLAIN_PROBE)
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    throughput = profile["kbps"] * 1000 / 8
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": profile["latency"],
            "downloadThroughput": throughput,
            "uploadThroughput": throughput,
        },
    )
    sizes: dict[str, float] = {}
    cdp.on(
        "Network.loadingFinished",
        lambda event: sizes.__setitem__(event["requestId"], event["encodedDataLength"]),
    )
    page.goto(f"{base}/help-points?lang={lang}", wait_until="commit", timeout=120_000)
    # Awaited in the page (a promise, not a polled string: the page's CSP forbids eval), and
    # timed there when the map says it is drawn.
    page.wait_for_selector("#public-map", state="attached", timeout=120_000)
    map_ms = page.evaluate(MAP_READY)
    plain_ms = page.evaluate("window.__plainShown")
    page_bytes = sum(sizes.values())
    requests = len(sizes)
    paint = page.evaluate(
        "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"
    )
    styled = page.evaluate(
        "getComputedStyle(document.querySelector('.pub-header')).backgroundColor"
    )
    context.close()
    return {
        "bytes": page_bytes,
        "requests": requests,
        "paint_ms": paint,
        "map_ms": map_ms,
        "plain_ms": plain_ms,
        "styled": styled == "rgb(11, 79, 168)",
    }


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lang", default="en")
    parser.add_argument("--json", help="write every round's figures to this file")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (CPUs: {os.cpu_count()})")
    results: dict[str, list[dict[str, float]]] = {name: [] for name in PROFILES}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        prepare(url)
        os.environ["HELPPOINT_MAP_TILES_URL"] = ""  # no tiles: the map must do without
        os.environ["HELPPOINT_SUPERVISION"] = "false"
        port = free_port()
        server = ServerProcess(url, port, Path(tmp) / "server.log")
        server.start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                base = f"http://127.0.0.1:{port}"
                one_load(browser, base, {"latency": 0, "kbps": 100_000}, args.lang)  # warm
                for round_ in range(1, args.rounds + 1):
                    for name, profile in PROFILES.items():
                        figures = one_load(browser, base, profile, args.lang)
                        results[name].append(figures)
                        print(
                            f"round {round_} {name}: {figures['bytes'] / 1000:.1f} kB in "
                            f"{figures['requests']:.0f} requests; first paint "
                            f"{figures['paint_ms']:.0f} ms; plain map shown "
                            f"{figures['plain_ms']:.0f} ms; interactive map drawn "
                            f"{figures['map_ms']:.0f} ms"
                            f"{'' if figures['styled'] else ' (STYLES MISSING)'}"
                        )
                browser.close()
        finally:
            server.stop()
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    for name, rounds in results.items():
        print(
            f"{name}: bytes {spread([r['bytes'] / 1000 for r in rounds])} kB; "
            f"first paint {spread([r['paint_ms'] for r in rounds])} ms; "
            f"plain map shown {spread([r['plain_ms'] for r in rounds])} ms; "
            f"interactive map drawn {spread([r['map_ms'] for r in rounds])} ms "
            f"(median (lowest-highest) of {len(rounds)} rounds)"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"took {time.monotonic() - started:.0f} s")
    sys.exit(code)
