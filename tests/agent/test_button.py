"""The button through gpiozero's mock pins: debounce, press-and-hold, one activation per press."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from helppoint.agent.button import GpioButton, VirtualButton, loop_timers
from helppoint.agent.hardware import mock_pin_factory


class FakeClock:
    """Monotonic time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Recorder:
    """Collects activations (hold times in ms) and signals each one to a waiting test."""

    def __init__(self) -> None:
        self.activations: list[int] = []
        self.stuck: list[float] = []
        self.activated = threading.Event()
        self.stuck_event = threading.Event()

    def activate(self, held_ms: int) -> None:
        self.activations.append(held_ms)
        self.activated.set()

    def on_stuck(self, held: float) -> None:
        self.stuck.append(held)
        self.stuck_event.set()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def gpio_button(recorder: Recorder, **options: object) -> GpioButton:
    button = GpioButton(17, pin_factory=mock_pin_factory(), **options)  # type: ignore[arg-type]
    button.on_activate = recorder.activate
    button.on_stuck = recorder.on_stuck
    return button


@pytest.fixture
def press_button(clock: FakeClock, recorder: Recorder) -> Iterator[GpioButton]:
    button = gpio_button(recorder, bounce_time=0.05, clock=clock)
    yield button
    button.close()


def test_a_press_activates_at_once(press_button: GpioButton, recorder: Recorder) -> None:
    press_button.mock_pin.drive_low()
    assert recorder.activations == [0]
    press_button.mock_pin.drive_high()
    assert recorder.activations == [0]


def test_contact_chatter_is_one_press(
    press_button: GpioButton, recorder: Recorder, clock: FakeClock
) -> None:
    pin = press_button.mock_pin
    pin.drive_low()
    for _ in range(5):  # the contact bounces for a few milliseconds
        clock.advance(0.002)
        pin.drive_high()
        clock.advance(0.002)
        pin.drive_low()
    clock.advance(0.5)
    pin.drive_high()
    assert recorder.activations == [0]
    assert press_button.bounces == 5
    clock.advance(0.3)  # a real second press, after the contact settled
    pin.drive_low()
    assert len(recorder.activations) == 2


def test_a_stuck_button_activates_once_and_is_reported(recorder: Recorder) -> None:
    button = gpio_button(recorder, bounce_time=0.0, stuck_after=0.05)
    try:
        button.mock_pin.drive_low()
        for _ in range(3):
            button.mock_pin.drive_low()  # no change of level: not a new press
        assert recorder.stuck_event.wait(5)
        assert recorder.activations == [0]
        assert len(recorder.stuck) == 1
    finally:
        button.close()


def test_hold_time_ignores_a_brush_and_activates_on_a_hold(recorder: Recorder) -> None:
    button = gpio_button(recorder, bounce_time=0.0, hold_time=0.1)
    try:
        button.mock_pin.drive_low()  # brushed against: released long before 0.1 s
        button.mock_pin.drive_high()
        button.mock_pin.drive_low()  # now held
        assert recorder.activated.wait(5)
        # Had the brush counted, its activation would have come first, before this one.
        assert len(recorder.activations) == 1
        assert recorder.activations[0] >= 100
    finally:
        button.close()


def test_holding_on_and_on_is_still_one_activation(recorder: Recorder) -> None:
    button = gpio_button(recorder, bounce_time=0.0, hold_time=0.02, stuck_after=0.2)
    try:
        button.mock_pin.drive_low()
        # Ten hold times pass before "stuck" fires: a repeating hold would have fired ten times.
        assert recorder.stuck_event.wait(5)
        assert len(recorder.activations) == 1
    finally:
        button.close()


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="negative"):
        VirtualButton(bounce_time=-1)
    with pytest.raises(ValueError, match="stuck_after"):
        VirtualButton(hold_time=2, stuck_after=1)


async def test_virtual_button_holds_on_the_event_loop() -> None:
    loop = asyncio.get_running_loop()
    activated: asyncio.Future[int] = loop.create_future()
    button = VirtualButton(bounce_time=0.0, hold_time=0.02, timers=loop_timers(loop))
    button.on_activate = activated.set_result
    button.press()
    assert button.is_pressed
    held_ms = await asyncio.wait_for(activated, 5)
    button.release()
    assert held_ms >= 20
    assert button.activations == 1


def test_virtual_button_debounces_like_the_gpio_one(clock: FakeClock, recorder: Recorder) -> None:
    button = VirtualButton(bounce_time=0.05, clock=clock)
    button.on_activate = recorder.activate
    button.press()
    clock.advance(0.01)
    button.release()
    clock.advance(0.01)
    button.press()  # chatter
    clock.advance(0.2)
    button.release()
    clock.advance(0.2)
    button.press()
    assert recorder.activations == [0, 0]
