"""How simulated members of the public press help points, for the demo.

Most activations of real help points are false (well over 99%): a single accidental press, or a
malicious burst of several presses. Now and then one is genuine: a press, then a second press
about 20 s later when nobody seems to answer. The first scenario starts soon after the
simulation does, then one every 20-60 s (configurable). A seeded RNG makes a run repeatable.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)


class ScenarioKind(enum.StrEnum):
    """What the simulated person is doing."""

    ACCIDENTAL = "accidental"  # one brush against the button
    MALICIOUS = "malicious"  # a burst of presses for fun
    GENUINE = "genuine"  # a press, then another when nobody seems to answer


#: What the unit's microphone hears in each kind of scenario (helppoint.calls.media).
SOUNDS = {
    ScenarioKind.ACCIDENTAL: "silence",
    ScenarioKind.MALICIOUS: "noise",
    ScenarioKind.GENUINE: "voice",
}


@dataclass(frozen=True)
class Scenario:
    """Presses on one unit: ``at`` seconds after the start, then at each offset in ``presses``."""

    at: float
    unit_id: str
    kind: ScenarioKind
    presses: tuple[float, ...]


class RandomPresser:
    """Generates and plays press scenarios across a fleet."""

    def __init__(
        self,
        unit_ids: Sequence[str],
        *,
        seed: int | None = None,
        rng: random.Random | None = None,
        interval: tuple[float, float] = (20.0, 60.0),
        first_delay: tuple[float, float] = (1.0, 3.0),
        genuine_share: float = 0.1,
        malicious_share: float = 0.25,
        burst_presses: tuple[int, int] = (3, 6),
        burst_gap: tuple[float, float] = (0.3, 1.5),
        genuine_gap: tuple[float, float] = (18.0, 22.0),
    ) -> None:
        if not unit_ids:
            raise ValueError("the random presser needs at least one unit")
        if not 0 < interval[0] <= interval[1]:
            raise ValueError("interval must be (low, high) with 0 < low <= high")
        if genuine_share < 0 or malicious_share < 0 or genuine_share + malicious_share > 1:
            raise ValueError("genuine_share and malicious_share must be shares that sum to <= 1")
        self.unit_ids = list(unit_ids)
        self.interval = interval
        self.first_delay = first_delay
        self.genuine_share = genuine_share
        self.malicious_share = malicious_share
        self.burst_presses = burst_presses
        self.burst_gap = burst_gap
        self.genuine_gap = genuine_gap
        self._rng = rng or random.Random(seed)

    @classmethod
    def every(
        cls,
        unit_ids: Sequence[str],
        seconds: float,
        seed: int | None = None,
        rng: random.Random | None = None,
    ) -> RandomPresser:
        """A presser that starts a scenario every ``seconds`` on average (half to 1.5 times)."""
        if seconds <= 0:
            raise ValueError(f"the press interval must be positive, not {seconds}")
        return cls(
            unit_ids,
            seed=seed,
            rng=rng,
            interval=(seconds / 2, seconds * 1.5),
            first_delay=(min(1.0, seconds / 2), min(3.0, seconds)),
        )

    def scenarios(self) -> Iterator[Scenario]:
        """An endless, repeatable (for a given seed) series of scenarios in time order."""
        rng = self._rng
        at = rng.uniform(*self.first_delay)
        while True:
            unit_id = rng.choice(self.unit_ids)
            roll = rng.random()
            if roll < self.genuine_share:
                kind = ScenarioKind.GENUINE
                presses: tuple[float, ...] = (0.0, rng.uniform(*self.genuine_gap))
            elif roll < self.genuine_share + self.malicious_share:
                kind = ScenarioKind.MALICIOUS
                offsets = [0.0]
                for _ in range(rng.randint(*self.burst_presses) - 1):
                    offsets.append(offsets[-1] + rng.uniform(*self.burst_gap))
                presses = tuple(offsets)
            else:
                kind = ScenarioKind.ACCIDENTAL
                presses = (0.0,)
            yield Scenario(at, unit_id, kind, presses)
            at += rng.uniform(*self.interval)

    async def run(
        self,
        press: Callable[[str], object],
        hear: Callable[[str, str], object] | None = None,
    ) -> None:
        """Play the scenarios until cancelled, calling ``press(unit_id)`` for each press.

        With ``hear(unit_id, sound)``, each scenario first sets what the unit's microphone
        hears (SOUNDS): a genuine caller speaks, a malicious burst is noise, an accidental
        press silence.
        """
        loop = asyncio.get_running_loop()
        start = loop.time()
        running: set[asyncio.Task[None]] = set()
        try:
            for scenario in self.scenarios():
                await asyncio.sleep(max(0.0, start + scenario.at - loop.time()))
                log.info(
                    "simulated %s activation at %s (%d press%s)",
                    scenario.kind.value,
                    scenario.unit_id,
                    len(scenario.presses),
                    "" if len(scenario.presses) == 1 else "es",
                )
                if hear is not None:
                    hear(scenario.unit_id, SOUNDS[scenario.kind])
                # Scenarios overlap (a genuine caller presses again 20 s later), so each runs alone.
                task = asyncio.create_task(self._play(scenario, press))
                running.add(task)
                task.add_done_callback(running.discard)
        finally:
            for task in running:
                task.cancel()

    @staticmethod
    async def _play(scenario: Scenario, press: Callable[[str], object]) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for offset in scenario.presses:
            await asyncio.sleep(max(0.0, start + offset - loop.time()))
            press(scenario.unit_id)


class PressTarget(Protocol):
    """What the presser presses: a fleet."""

    @property
    def unit_ids(self) -> list[str]:
        """The units that can be pressed."""
        ...

    def press(self, unit: str) -> object:
        """Press and release one unit's button."""
        ...


class DemoBehaviour:
    """The demo's members of the public: a scenario every ``mean_interval`` s on average."""

    def __init__(
        self, fleet: PressTarget, mean_interval: float = 40.0, rng: random.Random | None = None
    ) -> None:
        self.fleet = fleet
        self.presser = RandomPresser.every(fleet.unit_ids, mean_interval, rng=rng)

    async def run(self) -> None:
        """Press units until cancelled."""
        await self.presser.run(self.fleet.press)
