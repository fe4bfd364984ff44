"""How long Python's garbage collector stops this process, and how a serving process sets it.

A server holding tens of thousands of unit links has millions of long-lived objects; a full
(generation 2) collection walks all of them while nothing else in the process runs, not even
the event loop. Long pauses are logged at warning level and counted (shown by /healthz), so a
latency spike can be told apart from a slow database or a busy machine. `tune_for_serving`
keeps what a process starts with out of later collections and collects less often.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class GcPauses:
    """Times every collection through `gc.callbacks` while installed."""

    #: Pauses at least this long (seconds) are logged.
    warn_after: float = 0.2
    collections: int = 0
    full_collections: int = 0
    longest: float = 0.0
    total: float = 0.0
    #: Also told each pause: (generation, seconds), e.g. the Prometheus histogram.
    observe: Callable[[int, float], None] | None = None
    _started: float | None = None

    def install(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def remove(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        if self._started is None:
            return
        took = time.perf_counter() - self._started
        self._started = None
        self.collections += 1
        self.total += took
        self.longest = max(self.longest, took)
        generation = int(info.get("generation", 0))
        if generation == 2:
            self.full_collections += 1
        if self.observe is not None:
            self.observe(generation, took)
        if took >= self.warn_after:
            log.warning(
                "garbage collection (generation %d) paused this process for %.0f ms",
                generation,
                took * 1000,
            )

    def summary(self) -> dict[str, float | int]:
        return {
            "collections": self.collections,
            "full_collections": self.full_collections,
            "longest_ms": round(self.longest * 1000, 1),
            "total_ms": round(self.total * 1000, 1),
        }


#: A serving process's young-generation threshold (Python's default is 700); see
#: `tune_for_serving`.
YOUNG_THRESHOLD = 10_000


def tune_for_serving() -> None:
    """Set a long-running serving process's collector: call once it has started.

    What exists by then (modules, classes, routes, mappers, the engine) lives as long as the
    process: it is frozen, so that later collections scan only what came since. And the young
    generation is collected after 10,000 allocations instead of 700: a serving process's
    garbage is nearly all freed by reference counting, but a burst (the results of one batch,
    one pass of the event loop over a few hundred sockets) allocates more than 700 objects
    before it frees them, so the default collected every few messages, moved what was still
    in flight into the older generations, and so set off full collections that found
    nothing. Measured in a DC-09 alarm flood (docs/performance.md): 1,100 collections, 8 of
    them full ones of 20-38 ms, in 60,000 alarms, ~10% of the serving process's CPU and twice
    the ACK p99; with this, 8 young collections in all. Cyclic garbage is still collected, in
    larger rounds.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
