#!/usr/bin/env python3
"""Where a serving process's objects and time go: per unit link, and in a flood of presses.

Runs the server in this process (uvicorn on a thread, with `helppoint serve`'s options and
collector settings, a fresh SQLite database, the writer process as in production) and the
units plus one operator console in another process (`helppoint.sim.fleet`), so that what is
counted here is the server's own. In order:

1. **Per link**: the objects the collector tracks, by type, and the bytes allocated (by
   tracemalloc, by source line), with N links up, against the server before they came.
2. **Collections in a flood** of `--flood` presses (each unit pressed in turn), with the
   collector as `serve` sets it: every collection's generation, pause, what it walked (the
   unfrozen objects of the generations it collected) and, for the older generations, of
   which types.
3. **Cycles per press**: a second flood with the automatic collector off; then what one
   collection finds unreachable (objects only a garbage collection can free), by type.
4. **Profile**: a third flood under cProfile on the event loop's thread (the writer process
   is not in it: see bench/ingest_writer.py); the top functions go to --profile.

    python bench/press_path.py --units 2000 --flood 10000

Not a test: nothing here passes or fails on timing. See docs/performance.md for the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "benchmark-password"


# ---------------------------------------------------------------- the fleet (child process)


async def _fleet(server: str, credentials: list[tuple[str, str]]) -> None:
    import httpx
    from websockets.asyncio.client import connect

    from helppoint.sim.fleet import Fleet

    loop = asyncio.get_running_loop()
    # A busy server (a collection, another process on the cores) may take seconds to answer.
    async with httpx.AsyncClient(base_url=f"http://{server}", timeout=120) as http:
        login = await http.post("/api/login", json={"username": "bench", "password": PASSWORD})
        login.raise_for_status()
        token = login.cookies["helppoint_session"]
    seen = 0

    async def console() -> None:
        nonlocal seen
        async with connect(
            f"ws://{server}/console/ws",
            additional_headers={"Cookie": f"helppoint_session={token}"},
            max_size=None,
            open_timeout=120,
        ) as ws:
            async for _ in ws:
                seen += 1

    console_task = asyncio.create_task(console())
    fleet = Fleet(
        f"ws://{server}/device/v1",
        credentials,
        gpio_mock=False,
        bounce_time=0.0,
        stills=False,
        ramp_up=max(1.0, len(credentials) / 300),
        backoff_base=1.0,
        backoff_cap=30.0,
    )
    await fleet.start()
    await fleet.wait_connected(timeout=900)
    print("connected", flush=True)
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if not line or line[0] == "stop":
            break
        presses = int(line[1])
        began = time.monotonic()
        for n in range(presses):
            fleet.press(credentials[n % len(credentials)][0])
            if n % 200 == 199:
                await asyncio.sleep(0)
        await fleet.wait_all_acked(timeout=900)
        print(f"acked {time.monotonic() - began:.3f}", flush=True)
    await fleet.stop()
    console_task.cancel()


# ---------------------------------------------------------------- the server (this process)


def _objects_by_type() -> Counter[str]:
    """Every object the collector tracks, frozen ones included, by type name."""
    frozen = gc.get_freeze_count()
    gc.unfreeze()
    gc.collect()
    counts = Counter(type(o).__qualname__ for o in gc.get_objects())
    if frozen:
        gc.freeze()
    return counts


class Collections:
    """Records every collection: generation, pause, objects walked, types of older ones."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self._start: float = 0.0
        self._start_cpu: float = 0.0
        self._row: dict[str, Any] = {}
        self.recording = False

    def callback(self, phase: str, info: dict[str, Any]) -> None:
        if not self.recording:
            return
        generation = int(info["generation"])
        if phase == "start":
            walked = [o for g in range(generation + 1) for o in gc.get_objects(g)]
            self._row = {"generation": generation, "walked": len(walked)}
            if generation >= 1:
                top = Counter(type(o).__qualname__ for o in walked).most_common(8)
                self._row["types"] = top
            del walked
            self._start = time.perf_counter()
            self._start_cpu = time.thread_time()
        else:
            self._row["ms"] = round((time.perf_counter() - self._start) * 1000, 2)
            # CPU time of the collecting thread: what the pause costs on a quiet machine.
            self._row["cpu_ms"] = round((time.thread_time() - self._start_cpu) * 1000, 2)
            self._row["collected"] = info["collected"]
            self.rows.append(self._row)


def _serve(url: str, port: int) -> tuple[Any, Any, threading.Thread]:
    import uvicorn

    from helppoint.config import Settings
    from helppoint.gcpauses import tune_for_serving
    from helppoint.store.database import make_engine
    from helppoint.web.app import create_app
    from helppoint.web.server_protocols import HTTP_PROTOCOL, WS_PROTOCOL

    settings = Settings().with_values({"database_url": url, "port": port})
    engine = make_engine(url)
    app = create_app(settings, engine)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws_max_size=settings.max_frame_bytes,
        ws_ping_interval=60,  # as `helppoint serve` (cli.py)
        ws_ping_timeout=20,
        lifespan="on",
        http=HTTP_PROTOCOL,
        ws=WS_PROTOCOL,
    )
    server = uvicorn.Server(config)
    tune_for_serving()  # as `helppoint serve`, once the app is built
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    return server, app, thread


def _provision(url: str, units: int, workdir: Path) -> Path:
    from helppoint.domain.model import Role
    from helppoint.services.operators import add_operator
    from helppoint.services.units import ensure_zone, provision_unit
    from helppoint.store.database import make_engine, make_session_factory
    from helppoint.store.migrate import upgrade
    from helppoint.store.uow import UnitOfWork

    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    credentials = []
    uow = UnitOfWork(factory)
    with uow:
        ensure_zone(uow, "bench", "Benchmark")
        uow.flush()
        for n in range(units):
            unit = provision_unit(
                uow, f"B{n:05d}", f"Bench {n}", "bench", 52.2 + n * 1e-5, -0.9, actor="bench"
            )
            credentials.append((unit.unit_id, unit.key))
        uow.commit()
    add_operator(UnitOfWork(factory), "bench", PASSWORD, Role.OPERATOR)
    engine.dispose()
    path = workdir / "credentials.json"
    path.write_text(json.dumps(credentials))
    return path


def _flood(fleet: subprocess.Popen[str], presses: int) -> float:
    assert fleet.stdin is not None and fleet.stdout is not None
    fleet.stdin.write(f"flood {presses}\n")
    fleet.stdin.flush()
    line = fleet.stdout.readline().split()
    if not line or line[0] != "acked":
        raise RuntimeError(f"the fleet said {line!r}")
    return float(line[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--flood", type=int, default=10000)
    parser.add_argument("--profile", default="press-path.prof.txt", help="profile report file")
    parser.add_argument("--links-only", action="store_true", help="only the per-link figures")
    parser.add_argument("--fleet", nargs=2, help=argparse.SUPPRESS)  # the child: server, file
    args = parser.parse_args()
    if args.fleet:
        server, path = args.fleet
        pairs = [(unit, key) for unit, key in json.loads(Path(path).read_text())]
        asyncio.run(_fleet(server, pairs))
        return 0

    from helppoint.web.app import HelppointApp

    print(f"load before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="helppoint-press-path-"))
    url = f"sqlite:///{workdir / 'helppoint.sqlite'}"
    credentials = _provision(url, args.units, workdir)
    port = 20000 + os.getpid() % 20000
    server, app, thread = _serve(url, port)
    assert isinstance(app, HelppointApp)
    hub = app.state.device_link
    loop: asyncio.AbstractEventLoop | None = None

    time.sleep(2)
    before = _objects_by_type()
    tracemalloc.start(1)
    baseline = tracemalloc.take_snapshot()
    fleet = subprocess.Popen(
        [sys.executable, __file__, "--fleet", f"127.0.0.1:{port}", str(credentials)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert fleet.stdout is not None
        if fleet.stdout.readline().strip() != "connected":
            raise RuntimeError("the fleet did not connect")
        time.sleep(3)
        links = hub.link_count
        snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
        after = _objects_by_type()
        per_type = {k: (after[k] - before.get(k, 0)) / links for k in after}
        total = sum(after.values()) - sum(before.values())
        print(f"\n## Per link ({links} links)\n")
        print(f"objects the collector tracks per link: {total / links:.1f}")
        print("| type | per link |\n|---|---|")
        for name, n in sorted(per_type.items(), key=lambda kv: -kv[1])[:25]:
            if n >= 0.05:
                print(f"| {name} | {n:.2f} |")
        stats = snapshot.compare_to(baseline, "lineno")
        grown = sum(s.size_diff for s in stats)
        print(f"\nbytes allocated per link (tracemalloc): {grown / links:,.0f}")
        print("| where | bytes per link |\n|---|---|")
        for stat in stats[:20]:
            frame = stat.traceback[0]
            where = f"{Path(frame.filename).name}:{frame.lineno}"
            print(f"| {where} | {stat.size_diff / links:,.0f} |")
        del snapshot, baseline, stats
        if args.links_only:
            return 0

        # 2. Collections during a flood, with the collector as `serve` sets it.
        recorder = Collections()
        gc.callbacks.append(recorder.callback)
        gc.collect()
        print(f"\n## Collections in a flood of {args.flood} presses\n")
        print(f"thresholds {gc.get_threshold()}, frozen {gc.get_freeze_count():,}")
        recorder.recording = True
        took = _flood(fleet, args.flood)
        recorder.recording = False
        gc.callbacks.remove(recorder.callback)
        print(f"drained in {took:.2f} s ({args.flood / took:,.0f}/s)")
        by_gen = Counter(r["generation"] for r in recorder.rows)
        print(f"collections by generation: {dict(sorted(by_gen.items()))}")
        for row in recorder.rows:
            if row["generation"] >= 1 or row["cpu_ms"] >= 10:
                print(json.dumps(row))
        longest = max((r["ms"] for r in recorder.rows), default=0.0)
        longest_cpu = max((r["cpu_ms"] for r in recorder.rows), default=0.0)
        print(f"longest pause {longest} ms (wall), {longest_cpu} ms (CPU)")

        # 3. Cyclic garbage made by a flood (the automatic collector off meanwhile).
        gc.collect()
        gc.disable()
        try:
            took = _flood(fleet, args.flood)
            gc.set_debug(gc.DEBUG_SAVEALL)
            found = gc.collect()
            garbage = Counter(type(o).__qualname__ for o in gc.garbage)
            gc.garbage.clear()
            gc.set_debug(0)
        finally:
            gc.enable()
        print(f"\n## Cyclic garbage of a flood of {args.flood} presses\n")
        print(f"{found} objects ({found / args.flood:.2f} per press); by type:")
        for name, n in garbage.most_common(15):
            print(f"  {name}: {n}")

        # 4. A profile of the event loop's thread during a flood.
        profiler = cProfile.Profile()
        loop = _server_loop(server)
        loop.call_soon_threadsafe(profiler.enable)
        took = _flood(fleet, args.flood)
        done = threading.Event()

        def stop_profile() -> None:
            profiler.disable()
            done.set()

        loop.call_soon_threadsafe(stop_profile)
        done.wait(10)
        out = io.StringIO()
        report = pstats.Stats(profiler, stream=out)
        report.sort_stats("tottime").print_stats(40)
        report.sort_stats("cumulative").print_stats(60)
        Path(args.profile).write_text(out.getvalue())
        print(f"\n## Profile\n\nflood of {args.flood} drained in {took:.2f} s under cProfile; ")
        print(f"report: {args.profile}")
    finally:
        with contextlib.suppress(OSError):  # the fleet may have failed and gone
            assert fleet.stdin is not None
            fleet.stdin.write("stop\n")
            fleet.stdin.close()
        fleet.wait(60)
        server.should_exit = True
        thread.join(30)
    print(f"load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


def _server_loop(server: Any) -> asyncio.AbstractEventLoop:
    """The event loop uvicorn runs on (its thread's)."""
    for task_server in server.servers:
        return task_server.get_loop()  # type: ignore[no-any-return]
    raise RuntimeError("uvicorn has no server")


if __name__ == "__main__":
    sys.exit(main())
