"""The unit's blue light: off, steady, or the fast "alarm" flash a person sees on pressing."""

from __future__ import annotations

import enum
import threading
from typing import Any, Protocol


class LightPattern(enum.StrEnum):
    """What the light shows."""

    OFF = "off"
    STEADY = "steady"
    ALARM = "alarm"


#: On and off times of the alarm flash (seconds): fast enough to read as "alarm".
ALARM_FLASH = (0.15, 0.15)


class Light(Protocol):
    """Anything that can show a LightPattern."""

    @property
    def pattern(self) -> LightPattern:
        """The pattern shown now."""
        ...

    def show(self, pattern: LightPattern) -> None:
        """Switch to ``pattern`` at once."""

    def close(self) -> None:
        """Switch off and release the hardware."""


class VirtualLight:
    """A light with no hardware: remembers what it was told to show."""

    def __init__(self) -> None:
        self._pattern = LightPattern.OFF
        self.history: list[LightPattern] = []

    @property
    def pattern(self) -> LightPattern:
        """The pattern shown now."""
        return self._pattern

    def show(self, pattern: LightPattern) -> None:
        """Switch to ``pattern``."""
        self._pattern = pattern
        self.history.append(pattern)

    def close(self) -> None:
        """Switch off."""
        self._pattern = LightPattern.OFF


class GpioLight:
    """A light driven by a GPIO pin through a gpiozero ``LED`` (mock pins in simulation)."""

    def __init__(self, pin: int, *, pin_factory: Any = None) -> None:
        from gpiozero import LED

        self._led = LED(pin, pin_factory=pin_factory)
        self._pattern = LightPattern.OFF
        # Button threads and the link's loop may both switch the light.
        self._lock = threading.Lock()
        self.history: list[LightPattern] = []

    @property
    def pattern(self) -> LightPattern:
        """The pattern shown now."""
        return self._pattern

    @property
    def is_lit(self) -> bool:
        """Whether the lamp is on at this instant (it blinks in the alarm pattern)."""
        return bool(self._led.is_lit)

    def show(self, pattern: LightPattern) -> None:
        """Switch to ``pattern``; blinking runs on gpiozero's background thread."""
        with self._lock:
            if pattern is LightPattern.ALARM:
                on_time, off_time = ALARM_FLASH
                self._led.blink(on_time=on_time, off_time=off_time, background=True)
            elif pattern is LightPattern.STEADY:
                self._led.on()
            else:
                self._led.off()
            self._pattern = pattern
            self.history.append(pattern)

    def close(self) -> None:
        """Switch off and release the pin."""
        with self._lock:
            self._led.close()
            self._pattern = LightPattern.OFF
