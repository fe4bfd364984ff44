#!/usr/bin/env python3
"""How long this machine's disk takes to make a small write durable, and how often it stalls.

Every durable acknowledgement of a press waits for at least two such syncs in series: the
unit's own outbox (a real unit stores its press before sending it; the benchmarks' simulated
units too) and the event writer's commit (SQLite's write-ahead log in WAL mode with
synchronous=FULL). So the share of syncs over a few milliseconds bounds the latency a
benchmark can show at its 99th percentile, whatever the server does (docs/performance.md,
"the disk's own stalls").

Writes 4 KiB at one of 64 places of a file in DIRECTORY and `fdatasync`s it, every
`--interval` seconds for `--seconds`, and prints the sync times' median, p99 and maximum and
the share over 1, 2, 5 and 10 ms. Run it alone for the idle disk, or beside a benchmark for
the disk under that load (it adds one small sync every interval).

    python bench/disk_sync.py --seconds 20 /var/lib/helppoint

Not a test: nothing here passes or fails on timing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

PAGE = b"\x00" * 4096
THRESHOLDS_MS = (1, 2, 5, 10)


def measure(directory: str, seconds: float, interval: float) -> list[float]:
    """The sync times in milliseconds, one per write."""
    times: list[float] = []
    with tempfile.NamedTemporaryFile(dir=directory, prefix="disk-sync-") as file:
        fd = file.fileno()
        os.pwrite(fd, PAGE * 64, 0)
        os.fsync(fd)
        end = time.monotonic() + seconds
        n = 0
        while time.monotonic() < end:
            os.pwrite(fd, PAGE, (n % 64) * len(PAGE))
            n += 1
            started = time.perf_counter()
            os.fdatasync(fd)
            times.append((time.perf_counter() - started) * 1000)
            time.sleep(interval)
    return times


def summary(times: list[float]) -> dict[str, object]:
    ordered = sorted(times)
    count = len(ordered)
    return {
        "syncs": count,
        "p50_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(ordered[min(count - 1, int(count * 0.99))], 3),
        "max_ms": round(ordered[-1], 1),
        "share_over_ms": {
            str(ms): round(sum(1 for t in ordered if t > ms) / count, 4) for ms in THRESHOLDS_MS
        },
        "load_average": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", nargs="?", default=".", help="where to write (default: .)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between writes")
    args = parser.parse_args()
    if not os.path.isdir(args.directory):
        parser.error(f"{args.directory!r} is not a directory")
    if args.seconds <= 0 or args.interval < 0:
        parser.error("--seconds must be positive and --interval not negative")
    print(json.dumps(summary(measure(args.directory, args.seconds, args.interval)), indent=2))


if __name__ == "__main__":
    main()
