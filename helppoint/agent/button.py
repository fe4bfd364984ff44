"""The help button: debounce, optional press-and-hold, one activation per press, stuck detection.

The rules live in :class:`PushButton`, fed with raw edges. :class:`GpioButton` takes its edges
from a gpiozero ``Button`` (a real pin, or a mock pin in tests and small simulations);
:class:`VirtualButton` is a plain object for fleets of thousands of simulated units, which must
not create a gpiozero device (and its threads) per unit.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Cancellable(Protocol):
    """A pending timer (``threading.Timer`` or ``asyncio.TimerHandle``)."""

    def cancel(self) -> None:
        """Stop the timer if it has not fired yet."""


#: Starts a timer: ``timers(delay_seconds, callback)``.
Timers = Callable[[float, Callable[[], None]], Cancellable]


def thread_timers(delay: float, callback: Callable[[], None]) -> Cancellable:
    """Timers on daemon threads, for buttons whose edges arrive on gpiozero's threads."""
    timer = threading.Timer(delay, callback)
    timer.daemon = True
    timer.start()
    return timer


def loop_timers(loop: asyncio.AbstractEventLoop) -> Timers:
    """Timers on an asyncio loop, for virtual buttons pressed from that loop (no threads)."""

    def start(delay: float, callback: Callable[[], None]) -> Cancellable:
        return loop.call_later(delay, callback)

    return start


class HardwareError(RuntimeError):
    """A hardware device could not be used as asked."""


class PushButton:
    """Turns raw press/release edges into activations.

    - Debounce: a press counts only if the contact was quiet for ``bounce_time`` before it, so
      contact chatter does not turn one press into several.
    - ``hold_time`` 0 activates on the press itself; above 0, only once the button has been held
      that long (a quick brush past the button does nothing).
    - One activation per press, however long it is held: a stuck button does not raise a
      stream of alarms. After ``stuck_after`` seconds held, ``on_stuck`` is called once.
    """

    def __init__(
        self,
        *,
        bounce_time: float = 0.05,
        hold_time: float = 0.0,
        stuck_after: float | None = None,
        timers: Timers = thread_timers,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if bounce_time < 0 or hold_time < 0:
            raise ValueError("bounce_time and hold_time must not be negative")
        if stuck_after is not None and stuck_after <= hold_time:
            raise ValueError("stuck_after must be longer than hold_time")
        self.bounce_time = bounce_time
        self.hold_time = hold_time
        self.stuck_after = stuck_after
        #: Called with the hold duration in ms when the button activates.
        self.on_activate: Callable[[int], None] | None = None
        #: Called with the seconds held when the button has been held for ``stuck_after``.
        self.on_stuck: Callable[[float], None] | None = None
        self.presses = 0
        self.activations = 0
        self.bounces = 0
        self._timers = timers
        self._clock = clock
        self._lock = threading.Lock()
        self._pressed = False
        self._pressed_at = 0.0
        self._last_edge = -math.inf
        # Bumped on every edge, so a timer started for an earlier press knows it is stale.
        self._generation = 0
        self._hold_timer: Cancellable | None = None
        self._stuck_timer: Cancellable | None = None

    @property
    def is_pressed(self) -> bool:
        """Whether the contact is closed right now."""
        return self._pressed

    def edge_pressed(self) -> None:
        """The contact closed."""
        fire: int | None = None
        with self._lock:
            if self._pressed:
                return
            now = self._clock()
            quiet = now - self._last_edge >= self.bounce_time
            self._pressed = True
            self._last_edge = now
            self._generation += 1
            generation = self._generation
            if quiet:
                self.presses += 1
                self._pressed_at = now
            else:
                self.bounces += 1
            if self.hold_time > 0:
                # Chatter re-arms the hold timer: the hold counts from the last closing edge.
                self._hold_timer = self._timers(self.hold_time, lambda: self._held(generation))
            elif quiet:
                self.activations += 1
                fire = 0
        if fire is not None:
            self._fire(fire)
        if self.stuck_after is not None:
            # Armed once the activation is reported, so a stuck-button fault always follows
            # the press it is about (with a short stuck_after the timer could otherwise win).
            with self._lock:
                if generation == self._generation and self._pressed:
                    self._stuck_timer = self._timers(
                        self.stuck_after, lambda: self._stuck(generation)
                    )

    def edge_released(self) -> None:
        """The contact opened."""
        with self._lock:
            if not self._pressed:
                return
            self._pressed = False
            self._last_edge = self._clock()
            self._generation += 1
            for timer in (self._hold_timer, self._stuck_timer):
                if timer is not None:
                    timer.cancel()
            self._hold_timer = self._stuck_timer = None

    def _held(self, generation: int) -> None:
        with self._lock:
            if generation != self._generation or not self._pressed:
                return
            self._hold_timer = None
            self.activations += 1
            held_ms = round((self._clock() - self._pressed_at) * 1000)
        self._fire(held_ms)

    def _stuck(self, generation: int) -> None:
        with self._lock:
            if generation != self._generation or not self._pressed:
                return
            self._stuck_timer = None
            held = self._clock() - self._pressed_at
        log.warning("button held for %.0f s: stuck?", held)
        if self.on_stuck is not None:
            self.on_stuck(held)

    def _fire(self, held_ms: int) -> None:
        if self.on_activate is not None:
            self.on_activate(held_ms)

    def press(self) -> None:
        """Simulate a person closing the contact."""
        self.edge_pressed()

    def release(self) -> None:
        """Simulate a person letting go."""
        self.edge_released()

    def close(self) -> None:
        """Release resources; pending timers are cancelled."""
        with self._lock:
            self._generation += 1
            for timer in (self._hold_timer, self._stuck_timer):
                if timer is not None:
                    timer.cancel()


class VirtualButton(PushButton):
    """A button with no GPIO behind it, for large simulated fleets."""


class GpioButton(PushButton):
    """A button on a GPIO pin through gpiozero, wired to ground (the pin's pull-up is used).

    Pass ``pin_factory=MockFactory()`` in tests and small simulations: :meth:`press` then drives
    the mock pin, so a simulated press goes through gpiozero exactly like a finger would.
    """

    def __init__(
        self,
        pin: int,
        *,
        pin_factory: Any = None,
        bounce_time: float = 0.05,
        hold_time: float = 0.0,
        stuck_after: float | None = None,
        timers: Timers = thread_timers,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            bounce_time=bounce_time,
            hold_time=hold_time,
            stuck_after=stuck_after,
            timers=timers,
            clock=clock,
        )
        from gpiozero import DigitalInputDevice

        # A DigitalInputDevice is gpiozero's Button without its hold thread: PushButton times
        # holds itself, so GPIO and virtual buttons share one rule and no thread idles per unit.
        # gpiozero debounces in the pin driver on real hardware; mock pins ignore bounce_time,
        # which is why PushButton debounces again in software.
        self._device = DigitalInputDevice(
            pin, pull_up=True, bounce_time=bounce_time or None, pin_factory=pin_factory
        )
        self._device.when_activated = self._gpio_pressed
        self._device.when_deactivated = self._gpio_released

    # Zero-argument wrappers: gpiozero passes the device to one-argument callbacks.
    def _gpio_pressed(self) -> None:
        self.edge_pressed()

    def _gpio_released(self) -> None:
        self.edge_released()

    @property
    def mock_pin(self) -> Any:
        """The gpiozero mock pin (for tests: ``drive_low()`` presses), or HardwareError."""
        pin = self._device.pin
        if not hasattr(pin, "drive_low"):
            raise HardwareError("this button is on a real GPIO pin; only mock pins can be driven")
        return pin

    def press(self) -> None:
        """Drive the mock pin low, as the button contact would."""
        self.mock_pin.drive_low()

    def release(self) -> None:
        """Drive the mock pin high again."""
        self.mock_pin.drive_high()

    def close(self) -> None:
        """Release the GPIO pin and stop gpiozero's threads for it."""
        super().close()
        self._device.close()
