#!/usr/bin/env python3
"""What units' links cost the garbage collector of a serving process, with and without freezing.

Runs the server in this process (uvicorn in a thread, a fresh SQLite database) and
`helppoint simulate --units N` in another, so what is counted here is the server's own: the
objects the collector tracks per link, how long a full collection takes with the links up,
how many objects `LinkFreezer` (setting gc_freeze_links) froze, and, after every link has
closed, the cyclic garbage that freezing kept (what `gc.unfreeze(); gc.collect()` then finds).

    python bench/gc_links.py --units 2000 --freeze-links 0 1000

Not a test: nothing here passes or fails on timing. See docs/performance.md for the figures.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helppoint.store.database import make_engine  # noqa: E402
from helppoint.store.migrate import upgrade  # noqa: E402
from tests.conftest import Database, start_server  # noqa: E402


def _wait(condition: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.5)


def run(units: int, freeze_links: int) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="helppoint-gc-"))
    url = f"sqlite:///{workdir / 'helppoint.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    overrides = {"supervision": False, "press_listen": False, "gc_freeze_links": freeze_links}
    server, stop = start_server(Database("sqlite", url, engine), overrides)
    hub = server.app.state.device_link
    try:
        time.sleep(1)
        gc.collect()
        base = len(gc.get_objects()) + gc.get_freeze_count()
        command = [sys.executable, "-c", "import sys; from helppoint.cli import main; main()"]
        command += ["simulate", "--units", str(units), "--no-input", "--database-url", url]
        command += ["--server", f"ws://127.0.0.1:{server.port}/device/v1"]
        fleet = subprocess.Popen(
            command,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait(lambda: hub.link_count >= units, 600)
        time.sleep(12)  # the freezer looks every 5 s
        tracked = len(gc.get_objects())
        frozen = gc.get_freeze_count()
        full = []
        for _ in range(3):
            began = time.perf_counter()
            gc.collect()
            full.append((time.perf_counter() - began) * 1000)
        fleet.terminate()
        fleet.wait()
        _wait(lambda: hub.link_count == 0, 120)
        time.sleep(2)
        gc.unfreeze()
        kept = gc.collect()
        return {
            "links": units,
            "objects_per_link": round((tracked + frozen - base) / units, 1),
            "left_to_collections": tracked,
            "frozen": frozen,
            "full_collection_ms": round(statistics.median(full), 1),
            "garbage_kept_by_freezing": kept,
        }
    finally:
        stop()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--freeze-links", type=int, nargs="+", default=[0, 1000])
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()[0]:.2f}")
    print(
        "| gc_freeze_links | links | objects per link | left to collections | frozen | "
        "full collection ms (median of 3) | garbage kept by freezing |"
    )
    print("|---|---|---|---|---|---|---|")
    for freeze_links in args.freeze_links:
        r = run(args.units, freeze_links)
        print(
            f"| {freeze_links} | {r['links']} | {r['objects_per_link']} | "
            f"{r['left_to_collections']:,} | {r['frozen']:,} | {r['full_collection_ms']} | "
            f"{r['garbage_kept_by_freezing']:,} |",
            flush=True,
        )
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
