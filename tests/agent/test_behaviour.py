"""The demo's random presser: mostly false activations, now and then a genuine one."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter

import pytest

from helppoint.sim.behaviour import DemoBehaviour, RandomPresser, Scenario, ScenarioKind

UNITS = [f"HP-0{n}" for n in range(1, 9)]


def take(presser: RandomPresser, count: int) -> list[Scenario]:
    return list(itertools.islice(presser.scenarios(), count))


def test_a_seed_makes_the_run_repeatable() -> None:
    assert take(RandomPresser(UNITS, seed=4), 50) == take(RandomPresser(UNITS, seed=4), 50)
    assert take(RandomPresser(UNITS, seed=4), 50) != take(RandomPresser(UNITS, seed=5), 50)


def test_first_press_comes_soon_then_one_scenario_every_20_to_60_s() -> None:
    scenarios = take(RandomPresser(UNITS, seed=1), 500)
    assert 1.0 <= scenarios[0].at <= 3.0
    gaps = [b.at - a.at for a, b in itertools.pairwise(scenarios)]
    assert all(20.0 <= gap <= 60.0 for gap in gaps)
    assert {s.unit_id for s in scenarios} == set(UNITS)


def test_most_activations_are_false_and_each_kind_presses_as_people_do() -> None:
    scenarios = take(RandomPresser(UNITS, seed=2), 2000)
    kinds = Counter(s.kind for s in scenarios)
    assert kinds[ScenarioKind.ACCIDENTAL] + kinds[ScenarioKind.MALICIOUS] > 0.8 * 2000
    assert kinds[ScenarioKind.GENUINE] > 0
    for scenario in scenarios:
        if scenario.kind is ScenarioKind.ACCIDENTAL:
            assert scenario.presses == (0.0,)
        elif scenario.kind is ScenarioKind.MALICIOUS:
            assert 3 <= len(scenario.presses) <= 6
            assert all(0.3 <= b - a <= 1.5 for a, b in itertools.pairwise(scenario.presses))
        else:
            first, second = scenario.presses
            assert first == 0.0 and 18.0 <= second <= 22.0


def test_press_every_sets_the_average_interval() -> None:
    presser = RandomPresser.every(UNITS, 10.0, seed=3)
    gaps = [b.at - a.at for a, b in itertools.pairwise(take(presser, 200))]
    assert all(5.0 <= gap <= 15.0 for gap in gaps)
    with pytest.raises(ValueError):
        RandomPresser.every(UNITS, 0)
    with pytest.raises(ValueError):
        RandomPresser([], seed=1)


async def test_run_presses_the_units_of_the_scenarios() -> None:
    def fast(seed: int) -> RandomPresser:
        return RandomPresser(
            UNITS,
            seed=seed,
            interval=(0.001, 0.002),
            first_delay=(0.0, 0.001),
            burst_gap=(0.001, 0.002),
            genuine_gap=(0.001, 0.002),
        )

    plan = take(fast(9), 100)
    pressed: list[str] = []
    enough = asyncio.Event()

    def press(unit_id: str) -> None:
        pressed.append(unit_id)
        if len(pressed) >= 30:
            enough.set()

    task = asyncio.create_task(fast(9).run(press))
    await asyncio.wait_for(enough.wait(), 10)
    task.cancel()
    assert pressed[0] == plan[0].unit_id
    planned = Counter(s.unit_id for s in plan for _ in s.presses)
    assert not Counter(pressed) - planned  # nothing pressed that the plan did not say


class FakeFleet:
    unit_ids = UNITS

    def __init__(self) -> None:
        self.pressed: list[str] = []
        self.done = asyncio.Event()

    def press(self, unit: str) -> object:
        self.pressed.append(unit)
        self.done.set()
        return None


async def test_demo_behaviour_presses_the_fleet() -> None:
    fleet = FakeFleet()
    behaviour = DemoBehaviour(fleet, mean_interval=0.01, rng=random.Random(1))
    task = asyncio.create_task(behaviour.run())
    await asyncio.wait_for(fleet.done.wait(), 10)
    task.cancel()
    assert fleet.pressed and fleet.pressed[0] in UNITS


async def test_each_scenario_first_sets_what_the_microphone_hears() -> None:
    presser = RandomPresser(
        UNITS, seed=3, interval=(0.001, 0.002), first_delay=(0.0, 0.001), genuine_share=0.5
    )
    plan = take(
        RandomPresser(
            UNITS, seed=3, interval=(0.001, 0.002), first_delay=(0.0, 0.001), genuine_share=0.5
        ),
        12,
    )
    heard: list[tuple[str, str]] = []
    enough = asyncio.Event()

    def hear(unit_id: str, sound: str) -> None:
        heard.append((unit_id, sound))
        if len(heard) >= 12:
            enough.set()

    task = asyncio.create_task(presser.run(lambda unit: None, hear))
    await asyncio.wait_for(enough.wait(), 10)
    task.cancel()
    sounds = {"accidental": "silence", "malicious": "noise", "genuine": "voice"}
    assert heard[:12] == [(s.unit_id, sounds[s.kind.value]) for s in plan]
    assert {sound for _, sound in heard} >= {"voice"}
