"""The Agent acts locally at once, with or without a server; a broken part never loses a press."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterator

import pytest

from helppoint.agent.hardware import (
    CommandSpeaker,
    UnitHardware,
    gpio_hardware,
    mock_pin_factory,
    virtual_hardware,
)
from helppoint.agent.light import GpioLight, LightPattern, VirtualLight
from helppoint.agent.link import DeviceLink, LinkState
from helppoint.agent.media import SimulatedCamera, SimulatedSpeaker
from helppoint.agent.outbox import Outbox
from helppoint.agent.unit import Agent

from .protocol_server import Changes


@pytest.fixture
def mock_hardware() -> Iterator[UnitHardware]:
    hardware = gpio_hardware(pin_factory=mock_pin_factory(), bounce_time=0.0)
    yield hardware
    hardware.close()


def test_a_press_flashes_zooms_speaks_and_stores_with_no_server(
    mock_hardware: UnitHardware,
) -> None:
    outbox = Outbox()
    agent = Agent("HP-01", outbox, mock_hardware, camera_preset="zoom-path")
    mock_hardware.button.press()  # drives the mock GPIO pin low, like a finger
    assert mock_hardware.light.pattern is LightPattern.ALARM
    assert isinstance(mock_hardware.light, GpioLight) and mock_hardware.light.is_lit
    assert isinstance(mock_hardware.camera, SimulatedCamera)
    assert mock_hardware.camera.presets == ["zoom-path"]
    assert isinstance(mock_hardware.speaker, SimulatedSpeaker)
    assert mock_hardware.speaker.played == ["connecting"]
    [event] = outbox.unacked("HP-01")
    assert (event.seq, event.type, event.payload) == (1, "activation", {"hold_ms": 0})
    assert agent.stats().appended == 1 and agent.stats().link == "none"


async def test_local_actions_do_not_wait_for_an_unreachable_server(changes: Changes) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    outbox = Outbox()
    hardware = virtual_hardware(bounce_time=0.0)
    agent = Agent("HP-01", outbox, hardware, alarm_light_seconds=None)
    link = DeviceLink(
        f"ws://127.0.0.1:{port}", "HP-01", "k", outbox, on_state=lambda *_: changes.notify()
    )
    agent.attach(link)
    task = asyncio.create_task(link.run())
    await changes.until(lambda: link.state is LinkState.RETRYING)
    hardware.button.press()
    # All of this happened inside press(), before any network attempt could answer.
    assert hardware.light.pattern is LightPattern.ALARM
    assert outbox.unacked_count("HP-01") == 1
    link.stop()
    await task


class BrokenLight(VirtualLight):
    def show(self, pattern: LightPattern) -> None:
        raise OSError("lamp driver not responding")


def test_a_broken_light_or_speaker_does_not_lose_the_press(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hardware = virtual_hardware(bounce_time=0.0)
    hardware.light = BrokenLight()
    hardware.speaker = CommandSpeaker("/nonexistent/speak {text}")
    outbox = Outbox()
    agent = Agent("HP-01", outbox, hardware, alarm_light_seconds=None)
    with caplog.at_level(logging.ERROR):
        event = agent.activate()
    assert event is not None and outbox.unacked_count("HP-01") == 1
    assert agent.local_action_errors == 1  # the light; the speaker logs its own failure
    assert hardware.speaker.failures == 1
    assert "lamp driver not responding" in caplog.text
    assert "cannot run /nonexistent/speak" in caplog.text


def test_the_alarm_flash_ends_by_itself_when_nobody_answers() -> None:
    turned_off = threading.Event()

    class WatchedLight(VirtualLight):
        def show(self, pattern: LightPattern) -> None:
            super().show(pattern)
            if pattern is LightPattern.OFF:
                turned_off.set()

    hardware = virtual_hardware(bounce_time=0.0)
    hardware.light = WatchedLight()
    agent = Agent("HP-01", Outbox(), hardware, alarm_light_seconds=0.01)
    agent.activate()
    assert turned_off.wait(5)
    assert hardware.light.pattern is LightPattern.OFF


def test_a_stuck_button_is_reported_as_a_fault() -> None:
    hardware = gpio_hardware(pin_factory=mock_pin_factory(), bounce_time=0.0, stuck_after=0.01)
    outbox = Outbox()
    stored = threading.Event()
    Agent(
        "HP-01",
        outbox,
        hardware,
        alarm_light_seconds=None,
        on_event=lambda event, at: stored.set() if event.type == "fault" else None,
    )
    try:
        hardware.button.press()
        assert stored.wait(5)
        assert [e.type for e in outbox.unacked("HP-01")] == ["activation", "fault"]
        assert outbox.unacked("HP-01")[1].payload["fault"] == "button"
    finally:
        hardware.close()


def test_reports_and_status() -> None:
    outbox = Outbox()
    agent = Agent("HP-01", outbox, virtual_hardware())
    assert agent.report_tamper("camera covered") is not None
    assert agent.report_fault("speaker", "no audio") is not None
    self_test = agent.report_self_test({"light": True, "speaker": False})
    assert self_test is not None and self_test.payload["passed"] is False
    assert [e.type for e in outbox.unacked("HP-01")] == ["tamper", "fault", "self_test"]
    assert agent.status() == {
        "light": "off",
        "button_pressed": False,
        "unacked": 3,
        "battery": 1.0,
        "mains": True,
    }


def test_command_speaker_builds_a_safe_command_line() -> None:
    speaker = CommandSpeaker("espeak-ng -v en-gb {text}")
    assert speaker.argv("connecting") == [
        "espeak-ng",
        "-v",
        "en-gb",
        "Connecting you to the control room",
    ]
    files = CommandSpeaker("aplay -q {file}", prompt_dir="/opt/prompts")
    assert files.argv("stay_calm") == ["aplay", "-q", "/opt/prompts/stay_calm.wav"]
    with pytest.raises(ValueError, match="unknown placeholder"):
        CommandSpeaker("say {words}")
    with pytest.raises(ValueError, match="empty"):
        CommandSpeaker("   ")
