"""Fast versions of the scripted fault scenarios (tests/faults/scenarios.py); bench/faults.py
runs them full size. Acknowledged-but-lost must be zero, every time."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import require_postgres

from . import scenarios


@pytest.mark.slow
@pytest.mark.postgres
async def test_sigkill_of_one_worker_mid_flood_loses_nothing(tmp_path: Path) -> None:
    require_postgres()
    tally = await scenarios.kill_worker(tmp_path, units=20, presses=600, rate=300)
    print("\n" + tally.line())
    assert tally.sent == 600
    assert tally.ok, tally.line()


@pytest.mark.slow
async def test_sigkill_of_the_ingest_writer_process_mid_flood_loses_nothing(
    tmp_path: Path,
) -> None:
    tally = await scenarios.kill_writer(tmp_path, units=20, presses=600, rate=300)
    print("\n" + tally.line())
    assert tally.sent == 600
    assert "writer processes started: 2" in tally.notes
    assert tally.ok, tally.line()


@pytest.mark.slow
async def test_link_cut_units_keep_presses_and_catch_up_in_order(tmp_path: Path) -> None:
    tally = await scenarios.link_cut(tmp_path, units=10, cut_seconds=4, rate=25)
    print("\n" + tally.line())
    assert "presses were acknowledged while the link was cut!" not in tally.notes
    assert tally.sent >= 100
    assert tally.ok, tally.line()


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.whole_machine  # it ends every other test's PostgreSQL connections
async def test_postgres_restart_mid_flood_loses_nothing(tmp_path: Path) -> None:
    require_postgres()
    if not scenarios.can_restart_postgres():
        if os.environ.get("CI"):
            pytest.fail("CI must be able to restart the local PostgreSQL (root + pg_ctlcluster)")
        pytest.skip("needs root and Debian's pg_ctlcluster to restart PostgreSQL")
    tally = await scenarios.postgres_restart(tmp_path, units=20, presses=600, rate=300)
    print("\n" + tally.line())
    assert tally.sent == 600
    assert tally.ok, tally.line()
