"""The lookups made for every new alarm leave no cyclic garbage.

A statement with `in_(list)` built anew for each call left its bound parameters in reference
cycles once executed (~10 objects a call), freed only by the collector: in the serving
process triage's marks made four of them per new alarm, and at 10,000 units every young
collection spent 23-26 ms freeing them (docs/performance.md). Built once, what a call
leaves is freed by reference counting.
"""

from __future__ import annotations

import gc
from collections import Counter
from datetime import UTC, datetime, timedelta

from helppoint.services.seed import seed_demo
from tests.conftest import Database


def lookups(database: Database) -> None:
    """What triage's marks read for a new alarm (services/triage_rules.py `needing_marks`)."""
    now = datetime.now(UTC)
    with database.uow() as uow:
        uow.incidents.get_many([1, 2])
        uow.units.load(["HP-01", "HP-02"])
        uow.triage.recent_alarms_of(["HP-01"], now - timedelta(hours=1), now)
        uow.triage.marked_by_each([1, 2])


def test_a_new_alarms_lookups_leave_no_bound_parameters_to_the_collector(
    database: Database,
) -> None:
    seed_demo(database.uow())
    lookups(database)  # what is made once (compiled statements, caches) is not counted
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(20):
            lookups(database)
        gc.collect()
        kinds = Counter(type(o).__name__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert kinds["BindParameter"] == 0, kinds.most_common(10)
