"""How far the server has got with an uploaded crime file — checking its rows, then storing
them — for the browser to show while it waits (docs/evaluation.md).

The browser names its upload with a random id; the import reports every few thousand rows
(services/crime_import.py) and the browser asks for the latest report. Kept in memory in the
server process that took the upload, for two minutes after the last report: behind several
processes a question may reach another one, which then knows nothing (phase null) and the
browser just waits for the answer to its upload.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from helppoint.services.crime_import import ImportProgress


@dataclass(frozen=True)
class UploadState:
    """The latest report on one upload."""

    phase: str  # "checking", "storing", then "done" or "refused"
    rows: int
    fraction: float | None  # of the file's bytes read, while checking and storing
    reports: int  # how many reports the import made so far
    at: float  # the clock when it was reported


class UploadProgress:
    """Reports on uploads by (owner, upload id): thread-safe (imports run in worker threads),
    forgotten KEEP seconds after their last report, at most MAX at once."""

    KEEP = 120.0
    MAX = 1000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._states: dict[tuple[str, str], UploadState] = {}

    def report(self, owner: str, upload: str, progress: ImportProgress) -> None:
        """Keep the import's latest progress."""
        with self._lock:
            before = self._states.get((owner, upload))
            reports = before.reports + 1 if before else 1
            self._put(
                (owner, upload),
                UploadState(
                    progress.phase, progress.rows, progress.fraction, reports, self._clock()
                ),
            )

    def finish(self, owner: str, upload: str, phase: str, rows: int) -> None:
        """The import ended: "done" with the rows read, or "refused" (nothing stored)."""
        with self._lock:
            before = self._states.get((owner, upload))
            state = UploadState(phase, rows, 1.0, before.reports if before else 0, self._clock())
            self._put((owner, upload), state)

    def get(self, owner: str, upload: str) -> UploadState | None:
        """The latest report on the owner's upload, if this process has one."""
        with self._lock:
            self._forget()
            state = self._states.get((owner, upload))
            return None if state is None else replace(state)

    def _put(self, key: tuple[str, str], state: UploadState) -> None:
        self._forget()
        if key not in self._states and len(self._states) >= self.MAX:
            oldest = min(self._states, key=lambda k: self._states[k].at)
            del self._states[oldest]
        self._states[key] = state

    def _forget(self) -> None:
        now = self._clock()
        for key in [k for k, s in self._states.items() if s.at <= now - self.KEEP]:
            del self._states[key]


#: This server process's uploads.
UPLOADS = UploadProgress()
