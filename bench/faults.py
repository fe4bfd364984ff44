"""Scripted fault injection, full size (docs/reliability.md).

Each scenario floods real server processes with presses from a simulated fleet, injects one
fault mid-flood and prints what happened to the presses: sent, acknowledged, stored,
duplicated, acknowledged-but-lost (must be 0) and stored out of order (must be 0).

    python bench/faults.py                         # every scenario
    python bench/faults.py kill-worker --presses 10000
    python bench/faults.py kill-writer              # the ingest writer process, SQLite
    python bench/faults.py link-cut --cut-seconds 600
    python bench/faults.py postgres-restart        # needs root and pg_ctlcluster

The outbox-worker kill is tests/faults/test_outbox_kill.py (one notification, delivered once
per idempotency key after the kill); it is run by the test suite, not here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))  # (tests/faults imports tests.ports)

from faults import scenarios  # noqa: E402

SCENARIOS = ("kill-worker", "kill-writer", "postgres-restart", "link-cut")


async def run(args: argparse.Namespace) -> list[scenarios.Tally]:
    chosen = SCENARIOS if args.scenario == "all" else (args.scenario,)
    tallies = []
    for name in chosen:
        with tempfile.TemporaryDirectory(prefix=f"helppoint-{name}-") as tmp:
            if name == "kill-worker":
                tally = await scenarios.kill_worker(
                    Path(tmp), units=args.units, presses=args.presses, rate=args.rate
                )
            elif name == "kill-writer":
                tally = await scenarios.kill_writer(
                    Path(tmp),
                    units=args.units,
                    presses=args.presses,
                    rate=args.rate,
                    url=args.database_url,
                )
            elif name == "postgres-restart":
                if not scenarios.can_restart_postgres():
                    print("postgres-restart: skipped (needs root and pg_ctlcluster)")
                    continue
                tally = await scenarios.postgres_restart(
                    Path(tmp), units=args.units, presses=args.presses, rate=args.rate
                )
            else:
                tally = await scenarios.link_cut(
                    Path(tmp),
                    units=args.units,
                    cut_seconds=args.cut_seconds,
                    rate=args.cut_rate,
                    url=args.database_url,
                )
        print(tally.line(), flush=True)
        tallies.append(tally)
    return tallies


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenario", nargs="?", default="all", choices=("all", *SCENARIOS))
    parser.add_argument("--units", type=int, default=100, help="simulated units (default 100)")
    parser.add_argument(
        "--presses", type=int, default=5000, help="presses in a flood (default 5000)"
    )
    parser.add_argument(
        "--rate", type=float, default=500, help="flood presses a second (default 500)"
    )
    parser.add_argument(
        "--cut-seconds", type=float, default=600, help="link cut length (default 600)"
    )
    parser.add_argument(
        "--cut-rate", type=float, default=2, help="presses a second during the cut (default 2)"
    )
    parser.add_argument(
        "--database-url",
        help="link-cut and kill-writer database (default: a temporary SQLite file)",
    )
    parser.add_argument("--json", action="store_true", help="also print the tallies as JSON")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HELPPOINT_LOG_LEVEL", "warning")
    tallies = asyncio.run(run(args))
    if args.json:
        print(json.dumps([scenarios.as_dict(t) for t in tallies], indent=2))
    return 0 if all(t.ok for t in tallies) else 1


if __name__ == "__main__":
    sys.exit(main())
