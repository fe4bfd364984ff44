"""How long Python's garbage collector stops this process, and how a serving process sets it.

A server holding tens of thousands of unit links has millions of long-lived objects; a full
(generation 2) collection walks all of them while nothing else in the process runs, not even
the event loop. Long pauses are logged at warning level and counted (shown by /healthz), so a
latency spike can be told apart from a slow database or a busy machine. `tune_for_serving`
keeps what a process starts with out of later collections and collects less often.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from helppoint.tasks import cancel_and_wait

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
    #: The most CPU time (the collecting thread's) one collection took: on a busy machine a
    #: pause's wall time includes waiting for a core, which a quiet machine would not.
    longest_cpu: float = 0.0
    #: Also told each pause: (generation, seconds), e.g. the Prometheus histogram.
    observe: Callable[[int, float], None] | None = None
    _started: float | None = None
    _started_cpu: float = 0.0
    #: The latest pauses (seconds), a ring of RECENT, for their 99th percentile.
    _recent: array[float] = field(default_factory=lambda: array("d"))

    def install(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def remove(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            self._started_cpu = time.thread_time()
            return
        if self._started is None:
            return
        took = time.perf_counter() - self._started
        cpu_started = self._started_cpu
        self._started = None
        self.collections += 1
        self.total += took
        self.longest = max(self.longest, took)
        self.longest_cpu = max(self.longest_cpu, time.thread_time() - self._started_cpu)
        if len(self._recent) < RECENT:
            self._recent.append(took)
        else:
            self._recent[self.collections % RECENT] = took
        generation = int(info.get("generation", 0))
        if generation == 2:
            self.full_collections += 1
        if self.observe is not None:
            self.observe(generation, took)
        if took >= self.warn_after:
            # What it walked and freed tells a collection of much garbage (cycles freed, and
            # their finalizers run inside the pause) from a walk of many live objects.
            log.warning(
                "garbage collection (generation %d) paused this process for %.0f ms"
                " (%.0f ms of CPU; %d objects freed)",
                generation,
                took * 1000,
                (time.thread_time() - cpu_started) * 1000,
                int(info.get("collected", 0)),
            )

    def p99(self) -> float:
        """The 99th percentile of the latest RECENT pauses (seconds; 0 before any)."""
        if not self._recent:
            return 0.0
        ordered = sorted(self._recent)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]

    def summary(self) -> dict[str, float | int]:
        return {
            "collections": self.collections,
            "full_collections": self.full_collections,
            "longest_ms": round(self.longest * 1000, 1),
            "longest_cpu_ms": round(self.longest_cpu * 1000, 1),
            "p99_ms": round(self.p99() * 1000, 2),
            "total_ms": round(self.total * 1000, 1),
            "frozen_objects": gc.get_freeze_count(),
        }


#: How many of the latest pauses the percentile is taken over.
RECENT = 4096


#: A serving process's young-generation threshold (Python's default is 700); see
#: `tune_for_serving`.
YOUNG_THRESHOLD = 10_000
#: How many middle-generation collections a full one waits for (Python's default is 10); see
#: `tune_for_serving`.
OLD_THRESHOLD = 100


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

    A full collection waits for 100 middle-generation collections instead of 10. In CPython
    3.11 one runs after 10 middle ones once what reached the oldest generation since the last
    full collection is a quarter of what that one kept; `gc.freeze()` resets neither count,
    and each freeze of links (`LinkFreezer`) adds its objects to the first. So in a process
    with frozen links every 11th middle collection was a full one, and middle collections come
    when objects in flight pile up, in a flood of alarms: a full collection then walks the
    whole flood in flight (a 1.7 s pause measured at 10,000 units on a busy machine,
    docs/performance.md). Now it comes ten times less often. What it costs: cyclic garbage
    that reached the oldest generation waits ten times longer to be collected (a flood leaves
    ~0.06 objects of it per press).
    """
    gc.collect()
    gc.freeze()
    _, middle, _ = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, OLD_THRESHOLD)


class LinkFreezer:
    """Moves units' links out of the collector's way as they pile up.

    Each unit's link keeps ~80 objects the collector tracks (its connection, tasks, buffers)
    for as long as it is connected. Once they reach the oldest generation, every full
    collection walks all of them: with tens of thousands of links, seconds in which the
    process does nothing else, and a fleet connecting sets off a full collection each time it
    has grown by a quarter. Frozen objects are left out of collections.

    Every `check_every` seconds, once `link_step` more links are up than at the last freeze
    (or than the fewest since), the young generations are collected (short: they hold only
    what is recent) and everything left is frozen. Single units reconnecting never add up to
    a freeze; a fleet connecting or coming back does, every `link_step` links. A process with
    fewer links than `link_step` is never frozen: its full collections are short.

    What it costs: a closed link's objects are still freed by reference counting, but cyclic
    garbage that is in the oldest generation at the moment of a freeze (mostly the HTTP side
    of WebSocket handshakes that outlived two young collections) is never collected: measured
    from 20 objects in all to 28 per link for 2,000 links (docs/performance.md).
    `frozen_objects` in /healthz shows how much is frozen.
    """

    def __init__(
        self, links: Callable[[], int], link_step: int = 1000, check_every: float = 5.0
    ) -> None:
        self._links = links
        self.link_step = link_step
        self.check_every = check_every
        self.freezes = 0
        self._links_at_freeze = 0
        self._task: asyncio.Task[None] | None = None

    def due(self) -> bool:
        """Whether to freeze now."""
        links = self._links()
        # Links that went and came back (a network cut, a restart elsewhere) count as new.
        self._links_at_freeze = min(self._links_at_freeze, links)
        return self.link_step > 0 and links - self._links_at_freeze >= self.link_step

    def freeze(self) -> None:
        gc.collect(1)
        gc.freeze()
        self.freezes += 1
        self._links_at_freeze = self._links()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.check_every)
            if self.due():
                self.freeze()

    def start(self) -> None:
        if self.link_step > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="gc-freezer")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
