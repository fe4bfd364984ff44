"""The unit's devices behind small interfaces: button, light, camera, speaker.

``gpio_hardware`` builds them on gpiozero (real pins on a unit, or gpiozero's mock pins for a
single simulated agent and small simulations); ``virtual_hardware`` builds plain objects for
fleets of thousands of simulated units, where a gpiozero device per unit would cost a thread
or two each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from helppoint.agent.button import (
    GpioButton,
    HardwareError,
    PushButton,
    Timers,
    VirtualButton,
    loop_timers,
    thread_timers,
)
from helppoint.agent.light import GpioLight, Light, LightPattern, VirtualLight
from helppoint.agent.media import (
    Camera,
    CommandSpeaker,
    LoggingCamera,
    SimulatedCamera,
    SimulatedSpeaker,
    Speaker,
    UnknownPrompt,
)
from helppoint.protocol.device_link import PROMPTS

__all__ = [
    "PROMPTS",
    "Camera",
    "CommandSpeaker",
    "GpioButton",
    "GpioLight",
    "HardwareError",
    "Light",
    "LightPattern",
    "LoggingCamera",
    "PushButton",
    "SimulatedCamera",
    "SimulatedSpeaker",
    "Speaker",
    "UnitHardware",
    "UnknownPrompt",
    "VirtualButton",
    "VirtualLight",
    "gpio_hardware",
    "loop_timers",
    "mock_pin_factory",
    "thread_timers",
    "virtual_hardware",
]


@dataclass
class UnitHardware:
    """The devices of one unit."""

    button: PushButton
    light: Light
    camera: Camera
    speaker: Speaker

    @property
    def capabilities(self) -> list[str]:
        """What the unit tells the server it has (the hello ``capabilities``)."""
        return ["button", "light", "camera", "speaker"]

    def close(self) -> None:
        """Release pins and stop device threads."""
        self.button.close()
        self.light.close()


def mock_pin_factory() -> Any:
    """A fresh gpiozero mock pin factory, passed per device so the global one is untouched."""
    from gpiozero.pins.mock import MockFactory

    return MockFactory()


def gpio_hardware(
    *,
    button_pin: int = 17,
    light_pin: int = 27,
    bounce_time: float = 0.05,
    hold_time: float = 0.0,
    stuck_after: float | None = 60.0,
    pin_factory: Any = None,
    camera: Camera | None = None,
    speaker: Speaker | None = None,
) -> UnitHardware:
    """Button and light on GPIO pins via gpiozero (``pin_factory=None``: the board's pins).

    Raises gpiozero's errors (e.g. ``BadPinFactory`` off a Raspberry Pi) for the caller to
    report: without the button a unit cannot do its job.
    """
    button = GpioButton(
        button_pin,
        pin_factory=pin_factory,
        bounce_time=bounce_time,
        hold_time=hold_time,
        stuck_after=stuck_after,
    )
    try:
        light = GpioLight(light_pin, pin_factory=pin_factory)
    except Exception:
        button.close()
        raise
    return UnitHardware(
        button=button,
        light=light,
        camera=camera if camera is not None else SimulatedCamera(),
        speaker=speaker if speaker is not None else SimulatedSpeaker(),
    )


def virtual_hardware(
    *,
    bounce_time: float = 0.05,
    hold_time: float = 0.0,
    stuck_after: float | None = None,
    timers: Timers = thread_timers,
) -> UnitHardware:
    """Plain devices for large simulated fleets: no gpiozero, and no threads with loop timers."""
    return UnitHardware(
        button=VirtualButton(
            bounce_time=bounce_time, hold_time=hold_time, stuck_after=stuck_after, timers=timers
        ),
        light=VirtualLight(),
        camera=SimulatedCamera(),
        speaker=SimulatedSpeaker(),
    )
