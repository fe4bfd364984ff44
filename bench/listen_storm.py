#!/usr/bin/env python3
"""The server's side of a storm without the consoles: where the time from press to stored
voice judgement goes, and the CPU each part uses, with no browser on the machine.

    .venv/bin/python bench/listen_storm.py [--rounds 3] [--presses 50] [--storm-seconds 3]
        [--fleet-process] [--set NAME=VALUE ...]

Each round: a fresh server (`helppoint serve`, SQLite, log level info), 50 simulated units as
in bench/operator_storm.py (silence, one genuine caller's voice), PRESSES presses in
STORM_SECONDS, then 30 s. Prints per step the median and 90th percentile over the alarms
(from the server's "press listen timings" lines), how many alarms were judged, and the CPU
seconds each part used in those 30 s (server event loop, its other threads, the fleet, the
rest of the machine). --set passes server settings as HELPPOINT_NAME=VALUE (e.g.
--set call_recording=false). Not a test: see docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import operator_storm as storm

WINDOW = 30.0


def run_round(args: argparse.Namespace, number: int, workdir: Path) -> dict[str, object]:
    receiver = storm.PoliceReceiver()
    url = f"sqlite:///{workdir / f'listen-{number}.sqlite'}"
    credentials = storm.provision(url, args.units, receiver.url, 0)
    rng = random.Random(number)
    order = rng.sample([unit for unit, _ in credentials], args.presses)
    genuine = order[rng.randrange(args.presses)]
    os.environ.update(
        {
            "HELPPOINT_MAP_TILES_URL": storm.NO_TILES,
            "HELPPOINT_PRESS_LISTEN_MAX": "64",
            "HELPPOINT_DATA_DIR": str(workdir / f"data-{number}"),
        }
    )
    for setting in args.set:
        name, _, value = setting.partition("=")
        os.environ[f"HELPPOINT_{name.upper()}"] = value
    log_path = workdir / f"server-{number}.log"
    server = storm.ServerProcess(url, storm.free_port(), log_path, log_level="info")
    server.start()
    assert server.process is not None
    base = f"http://127.0.0.1:{server.port}"
    fleet: storm.FleetThread | storm.FleetProcess = (
        storm.FleetProcess(base, credentials, genuine)
        if args.fleet_process
        else storm.FleetThread(base, credentials, genuine)
    )
    try:
        time.sleep(2)  # the links settle
        before = storm.cpu_parts(server.process.pid, fleet.pid)
        pressed: dict[str, float] = {}
        start = time.monotonic()
        gap = args.storm_seconds / max(1, args.presses - 1)
        for n, unit in enumerate(order):
            time.sleep(max(0.0, start + n * gap - time.monotonic()))
            pressed[unit] = time.monotonic()
            fleet.press(unit)
        time.sleep(max(0.0, start + WINDOW - time.monotonic()))
        cpu = storm.cpu_used(before, storm.cpu_parts(server.process.pid, fleet.pid))
        for part in ("operators' scripts", "chromium and its driver"):
            cpu.pop(part, None)
        phases = storm.listen_phases(log_path, pressed, {})
        judged = log_path.read_text(errors="replace").count("press listen timings")
        return {"judged": judged, "phases": phases, "cpu": cpu, "load": os.getloadavg()[0]}
    finally:
        fleet.stop()
        server.stop()
        receiver.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--units", type=int, default=50)
    parser.add_argument("--presses", type=int, default=50)
    parser.add_argument("--storm-seconds", type=float, default=3.0)
    parser.add_argument("--fleet-process", action="store_true")
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    rounds = []
    with tempfile.TemporaryDirectory(prefix="listen-storm-") as tmp:
        for number in range(1, args.rounds + 1):
            rounds.append(run_round(args, number, Path(tmp)))
            print(rounds[-1], flush=True)
    print(
        f"\nlisten storm: {args.presses} presses in {args.storm_seconds} s, {args.rounds} "
        f"round(s), fleet {'in its own process' if args.fleet_process else 'in a thread'}"
        f"{', ' + ' '.join(args.set) if args.set else ''}; median (min-max) of the rounds"
    )
    print(f"  judged in {WINDOW:g} s: {storm.spread([float(r['judged']) for r in rounds])}")
    print(f"  load average (1 min) at the end: {storm.spread([float(r['load']) for r in rounds])}")
    print("  per alarm (s), the rounds' medians / 90th percentiles:")
    names = [name for name, _ in storm.PHASES[:-1]] + ["press -> stored"]
    for name in names:
        values = [r["phases"][name] for r in rounds if name in r["phases"]]  # type: ignore[index,operator]
        if values:
            medians = [v[0] for v in values]
            tails = [v[1] for v in values]
            print(f"    {name:<38} {storm.spread(medians)} / {storm.spread(tails)}")
    print(f"  CPU seconds in the first {WINDOW:g} s, by part:")
    for name in rounds[0]["cpu"]:  # type: ignore[attr-defined]
        used = [r["cpu"][name] for r in rounds]  # type: ignore[index]
        print(f"    {name:<38} {storm.spread(used)}")


if __name__ == "__main__":
    main()
