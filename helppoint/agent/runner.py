"""``helppoint agent``: run the agent of one unit until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager

from helppoint.agent.backoff import Backoff
from helppoint.agent.call import CallMedia, UnitCalls
from helppoint.agent.camera_onvif import OnvifPtzCamera
from helppoint.agent.hardware import PushButton, UnitHardware, gpio_hardware, mock_pin_factory
from helppoint.agent.link import DeviceLink, LinkExit
from helppoint.agent.media import (
    Camera,
    CommandSpeaker,
    LoggingCamera,
    LoggingSpeaker,
    PromptCache,
    Speaker,
)
from helppoint.agent.outbox import Outbox, OutboxError
from helppoint.agent.settings import AgentConfigError, AgentSettings
from helppoint.agent.stills import http_base, still_sender
from helppoint.agent.unit import Agent

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_CONFIG = 2  # the agent cannot start: bad setting, no GPIO, outbox not writable
EXIT_REPLACED = 3  # another agent connected as this unit (4409); restarting would fight it


class AgentStartError(RuntimeError):
    """The agent cannot start with these settings on this machine."""


def build_hardware(settings: AgentSettings) -> UnitHardware:
    """The unit's devices as the settings describe them."""
    from gpiozero.exc import GPIOZeroError

    speaker: Speaker = LoggingSpeaker()
    if settings.speaker_command:
        try:
            speaker = CommandSpeaker(
                settings.speaker_command, settings.prompt_dir, settings.prompt_file_command
            )
        except ValueError as exc:
            raise AgentStartError(str(exc)) from exc
    try:
        return gpio_hardware(
            button_pin=settings.button_pin,
            light_pin=settings.light_pin,
            bounce_time=settings.bounce_time,
            hold_time=settings.hold_time,
            stuck_after=settings.stuck_after,
            pin_factory=mock_pin_factory() if settings.mock_pins else None,
            camera=build_camera(settings),
            speaker=speaker,
        )
    except GPIOZeroError as exc:
        raise AgentStartError(
            f"cannot use GPIO pins {settings.button_pin} (button) and {settings.light_pin} "
            f"(light): {exc}. On a machine without GPIO set mock_pins = true."
        ) from exc


def build_camera(settings: AgentSettings) -> Camera:
    """The ONVIF PTZ camera if one is configured, else a camera that only logs presets."""
    if not settings.onvif_host:
        return LoggingCamera()
    return OnvifPtzCamera(
        settings.onvif_host,
        settings.onvif_port,
        settings.onvif_user,
        settings.onvif_password,
        settings.preset_tokens(),
        profile=settings.onvif_profile,
    )


def camera_capabilities(hardware: UnitHardware) -> list[str]:
    """Extra hello capabilities of the camera: ``ptz`` and its ``preset:NAME`` entries."""
    if isinstance(hardware.camera, OnvifPtzCamera):
        return hardware.camera.capabilities()
    return []


async def serve_agent(
    settings: AgentSettings,
    stop: asyncio.Event,
    *,
    hardware: UnitHardware | None = None,
    backoff: Backoff | None = None,
) -> int:
    """Run the agent until ``stop`` is set or the server replaces it; returns an exit code."""
    try:
        settings.check()
    except AgentConfigError as exc:
        log.error("%s", exc)
        return EXIT_CONFIG
    try:
        outbox = Outbox(settings.outbox_path)
    except OutboxError as exc:
        log.error("%s", exc)
        return EXIT_CONFIG
    try:
        hardware = hardware if hardware is not None else build_hardware(settings)
    except AgentStartError as exc:
        log.error("%s", exc)
        outbox.close()
        return EXIT_CONFIG
    agent = Agent(
        settings.unit_id,
        outbox,
        hardware,
        camera_preset=settings.camera_preset,
        alarm_light_seconds=settings.alarm_light_seconds,
    )
    link = DeviceLink(
        settings.server_url,
        settings.unit_id,
        settings.key,
        outbox,
        capabilities=hardware.capabilities + camera_capabilities(hardware),
        backoff=backoff,
        status=agent.status,
    )
    agent.attach(link)
    agent.home_preset = settings.home_preset
    agent.prompt_cache = PromptCache(
        http_base(settings.server_url), settings.unit_id, settings.key, settings.prompt_cache_dir
    )
    agent.stills = still_sender(
        settings.server_url, settings.unit_id, settings.key, settings.still_source
    )
    calls = UnitCalls(
        settings.unit_id,
        CallMedia(
            audio_input=settings.call_audio_input,
            audio_output=settings.call_audio_output,
            video_source=settings.call_video_source,
            digital_zoom=settings.digital_zoom,
        ),
        zoom_preset=settings.camera_preset,
    )
    link.calls = calls
    agent.calls = calls
    pending = outbox.unacked_count(settings.unit_id)
    log.info(
        "agent for %s started (button GPIO%d, light GPIO%d%s); %d event(s) waiting to be sent",
        settings.unit_id,
        settings.button_pin,
        settings.light_pin,
        ", mock pins" if settings.mock_pins else "",
        pending,
    )
    link_task = asyncio.create_task(link.run(), name=f"link-{settings.unit_id}")
    stop_task = asyncio.create_task(stop.wait())
    try:
        with press_on_signal(hardware.button) if settings.mock_pins else contextlib.nullcontext():
            done, _ = await asyncio.wait(
                {link_task, stop_task}, return_when=asyncio.FIRST_COMPLETED
            )
        if link_task not in done:
            link.stop()
        result = await link_task
    finally:
        stop_task.cancel()
        await calls.close()
        agent.close()
        if isinstance(hardware.camera, OnvifPtzCamera):
            hardware.camera.close()
        outbox.close()
    if result is LinkExit.REPLACED:
        return EXIT_REPLACED
    log.info("agent for %s stopped", settings.unit_id)
    return EXIT_OK


def run_agent(settings: AgentSettings) -> int:
    """Run the agent in the foreground until SIGINT/SIGTERM; returns the exit code."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    return asyncio.run(_main(settings))


async def _main(settings: AgentSettings) -> int:
    stop = asyncio.Event()
    with stop_on_signals(stop):
        return await serve_agent(settings, stop)


@contextmanager
def press_on_signal(button: PushButton) -> Iterator[None]:
    """SIGUSR1 presses the button: how to try an agent on mock pins by hand."""

    def press() -> None:
        log.info("SIGUSR1: pressing the (mock) button")
        button.press()
        button.release()

    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGUSR1, press)
    except (NotImplementedError, RuntimeError, ValueError):
        yield  # not the main thread, or no Unix signals: nothing to install
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGUSR1)


@contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """Set ``stop`` on SIGINT/SIGTERM, where the platform and thread allow signal handlers."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            # Not the main thread (tests) or not a Unix loop: Ctrl-C still ends asyncio.run.
            pass
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
