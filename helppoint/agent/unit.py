"""The Agent: what a help point unit does when its button is pressed, and how it obeys commands.

Local actions come first and never wait for anything: the light flashes, the camera turns to
its zoom preset and the "connecting you" prompt plays at once, even with no network. Then the
event is written to the outbox (durably) and the link is woken to send it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from helppoint.agent.button import Cancellable, Timers, thread_timers
from helppoint.agent.camera_onvif import CameraError, OnvifPtzCamera
from helppoint.agent.hardware import UnitHardware
from helppoint.agent.light import LightPattern
from helppoint.agent.link import CommandResult, DeviceLink
from helppoint.agent.media import PromptCache, PromptUnavailable, UnknownPrompt
from helppoint.agent.outbox import Outbox, OutboxError, OutboxEvent
from helppoint.agent.selftest import PARTS, PowerSupply, SimulatedAcousticPath, acoustic_loopback
from helppoint.agent.stills import StillSender
from helppoint.protocol.device_link import PROMPTS

log = logging.getLogger(__name__)


class CameraPresetListener(Protocol):
    """Told whenever the camera is sent to a preset (a call's digital zoom follows it)."""

    def camera_preset(self, preset: str) -> None:
        """The camera is going to ``preset``."""


#: Called with each event the agent stored and the monotonic time it happened.
EventHook = Callable[[OutboxEvent, float], None]


@dataclass(frozen=True)
class AgentStats:
    """A snapshot of one unit's counters."""

    unit_id: str
    activations: int
    appended: int
    acked: int
    duplicates: int
    resends: int
    renumbers: int
    unacked: int
    outbox_errors: int
    local_action_errors: int
    light: str
    link: str


class Agent:
    """One help point unit: hardware, outbox and (once attached) its device link."""

    def __init__(
        self,
        unit_id: str,
        outbox: Outbox,
        hardware: UnitHardware,
        *,
        camera_preset: str = "zoom",
        alarm_light_seconds: float | None = 600.0,
        timers: Timers = thread_timers,
        on_event: EventHook | None = None,
    ) -> None:
        self.unit_id = unit_id
        self.outbox = outbox
        self.hardware = hardware
        self.camera_preset = camera_preset
        #: The preset the camera returns to when the incident closes.
        self.home_preset = "home"
        #: Fetches and caches custom prompts (agent/media.py), if the unit can play them.
        self.prompt_cache: PromptCache | None = None
        self.alarm_light_seconds = alarm_light_seconds
        self.on_event = on_event
        self.link: DeviceLink | None = None
        #: The unit's calls (helppoint/agent/call.py), told about camera presets for digital zoom.
        self.calls: CameraPresetListener | None = None
        #: Takes and sends a camera still on each activation (agent/stills.py), if set.
        self.stills: StillSender | None = None
        #: The most recent event this agent stored.
        self.last_event: OutboxEvent | None = None
        self.activations = 0
        self.appended = 0
        self.outbox_errors = 0
        self.local_action_errors = 0
        self._timers = timers
        self._lock = threading.Lock()
        self._light_timer: Cancellable | None = None
        #: The unit's power supply (reported in heartbeats) and its speaker → microphone path.
        self.power = PowerSupply()
        self.acoustic = SimulatedAcousticPath()
        #: Parts made to fail the self-test on purpose (simulation: `fault UNIT speaker`).
        self.injected_faults: set[str] = set()
        hardware.button.on_activate = self._pressed
        hardware.button.on_stuck = self._button_stuck

    def attach(self, link: DeviceLink) -> None:
        """Use ``link`` to deliver events; it is woken whenever one is stored."""
        self.link = link
        link.commands = self.handle

    def activate(self, held_ms: int = 0) -> OutboxEvent | None:
        """The button was pressed: act locally at once, then store and send the activation."""
        with self._lock:
            self.activations += 1
        self._local("light", lambda: self._show_alarm())
        self._local("camera", lambda: self._goto_preset(self.camera_preset))
        self._local("speaker", lambda: self.hardware.speaker.play("connecting"))
        event = self._report("activation", {"hold_ms": held_ms})
        stills = self.stills
        if event is not None and stills is not None:
            # After the event is safely in the outbox: the still is taken and sent in the
            # background and joins the incident of this activation's seq.
            seq = event.seq

            def send_still() -> None:
                stills.send_for(seq)

            self._local("still", send_still)
        return event

    def _pressed(self, held_ms: int) -> None:
        self.activate(held_ms)

    def report_tamper(self, detail: str = "") -> OutboxEvent | None:
        """Report that the unit's housing or camera was interfered with."""
        return self._report("tamper", {"detail": detail} if detail else {})

    def report_fault(self, fault: str, detail: str = "") -> OutboxEvent | None:
        """Report a broken part (``light``, ``camera``, ``speaker``, ``button`` …)."""
        return self._report("fault", {"fault": fault, "detail": detail})

    def report_self_test(
        self,
        checks: dict[str, bool],
        measurements: dict[str, Any] | None = None,
        run: str | None = None,
    ) -> OutboxEvent | None:
        """Report the result of a self-test; it passed if every check passed.

        `run` is the id of the server's `self_test` command this answers, if any.
        """
        payload: dict[str, Any] = {"passed": all(checks.values()), "checks": checks}
        if measurements:
            payload["measurements"] = measurements
        if run:
            payload["run"] = run
        return self._report("self_test", payload)

    def run_self_test(self, run: str | None = None) -> CommandResult:
        """Check light, camera, speaker and microphone now, and report the result as an event."""
        faults = self.injected_faults
        checks: dict[str, bool] = {}
        light = self.hardware.light
        before = light.pattern
        try:
            light.show(LightPattern.STEADY)
            checks["light"] = light.pattern is LightPattern.STEADY and "light" not in faults
        except Exception:
            log.exception("%s: self-test of the light failed", self.unit_id)
            checks["light"] = False
        finally:
            self._local("light", lambda: light.show(before))
        try:
            self.hardware.camera.goto_preset("self_test")
            self.hardware.camera.goto_preset(self.camera_preset)
            checks["camera"] = "camera" not in faults
        except Exception:
            log.exception("%s: self-test of the camera failed", self.unit_id)
            checks["camera"] = False
        loop = acoustic_loopback(
            self.acoustic,
            speaker_ok="speaker" not in faults,
            microphone_ok="microphone" not in faults,
        )
        # One loop-back tests both ends; a silent one cannot say which end is broken.
        checks["speaker"] = checks["microphone"] = loop.passed
        measurements = {"loopback": loop.as_dict(), **self.power.reading()}
        self.report_self_test(checks, measurements, run)
        failed = [part for part in PARTS if not checks[part]]
        detail = "self-test passed" if not failed else "self-test failed: " + ", ".join(failed)
        return CommandResult(not failed, detail)

    def handle(
        self, command: str, args: dict[str, Any]
    ) -> CommandResult | Awaitable[CommandResult]:
        """A server command as the link runs it: like :meth:`execute`, but a camera that
        answers over the network (ONVIF) is awaited, so the result says where it really is."""
        if command == "play_message" and "sha256" in args:
            return self._play_custom(args)
        preset = args.get("preset")
        camera = self.hardware.camera
        is_preset = command == "camera_preset" and isinstance(preset, str) and bool(preset)
        if is_preset and isinstance(camera, OnvifPtzCamera):
            assert isinstance(preset, str)
            return self._goto_preset_confirmed(camera, self._preset_name(preset))
        return self.execute(command, args)

    async def _goto_preset_confirmed(self, camera: OnvifPtzCamera, preset: str) -> CommandResult:
        if self.calls is not None:
            self.calls.camera_preset(preset)
        try:
            await camera.goto_preset_async(preset)
        except CameraError as exc:
            return CommandResult(False, str(exc))
        return CommandResult(True, f"camera at preset {preset}")

    async def _play_custom(self, args: dict[str, Any]) -> CommandResult:
        """A custom prompt: fetch its audio unless cached (off the link's loop), then play."""
        message, sha256, fmt = args.get("message"), args.get("sha256"), args.get("format")
        if not all(isinstance(v, str) and v for v in (message, sha256, fmt)):
            return CommandResult(
                False, "play_message of a custom prompt needs message, sha256 and format"
            )
        assert isinstance(message, str) and isinstance(sha256, str) and isinstance(fmt, str)
        play_file = getattr(self.hardware.speaker, "play_file", None)
        if self.prompt_cache is None or play_file is None:
            return CommandResult(False, f"this unit cannot play custom prompts ({message})")
        try:
            path = await asyncio.to_thread(self.prompt_cache.fetch, message, sha256, fmt)
        except PromptUnavailable as exc:
            return CommandResult(False, str(exc))
        play_file(message, path)
        return CommandResult(True, f"playing {message} (custom prompt {sha256[:12]})")

    def _preset_name(self, preset: str) -> str:
        # The server says "home" when an incident closes; the unit knows which preset that is.
        return self.home_preset if preset == "home" else preset

    def execute(self, command: str, args: dict[str, Any]) -> CommandResult:
        """Carry out a server command (``flash_light``, ``camera_preset``, ``play_message``)."""
        if command == "flash_light":
            on = args.get("on", True)
            pattern_name = args.get("pattern", LightPattern.ALARM.value) if on else "off"
            try:
                pattern = LightPattern(pattern_name)
            except ValueError:
                known = ", ".join(p.value for p in LightPattern)
                return CommandResult(
                    False, f"unknown light pattern {pattern_name!r}; known: {known}"
                )
            if pattern is LightPattern.ALARM:
                self._show_alarm()
            else:
                self._cancel_light_timer()
                self.hardware.light.show(pattern)
            shown = {LightPattern.OFF: "off", LightPattern.STEADY: "on (steady)"}
            return CommandResult(True, f"light {shown.get(pattern, 'flashing (alarm)')}")
        if command == "camera_preset":
            preset = args.get("preset")
            if not isinstance(preset, str) or not preset:
                return CommandResult(False, "camera_preset needs a preset name")
            preset = self._preset_name(preset)
            self._goto_preset(preset)
            return CommandResult(True, f"camera at preset {preset}")
        if command == "play_message":
            message = args.get("message")
            if not isinstance(message, str):
                return CommandResult(False, "play_message needs a message name")
            try:
                self.hardware.speaker.play(message)
            except UnknownPrompt as exc:
                return CommandResult(False, str(exc))
            return CommandResult(True, f"playing {message}: {PROMPTS[message]}")
        if command == "configure":
            return self.configure(args)
        if command == "self_test":
            run = args.get("run")
            return self.run_self_test(run if isinstance(run, str) else None)
        return CommandResult(False, f"unknown command {command!r}")

    def configure(self, args: dict[str, Any]) -> CommandResult:
        """Apply remote configuration; the result names exactly what was applied.

        ``heartbeat_period`` (s), ``hold_ms`` (press-and-hold before an activation), ``volume``
        (0-100 %) and ``prompts`` (message name → text). A value the unit cannot apply is
        left out of ``applied`` and explained in ``detail``.
        """
        applied: dict[str, Any] = {}
        problems: list[str] = []
        period = args.get("heartbeat_period")
        if period is not None:
            if isinstance(period, int) and not isinstance(period, bool) and 1 <= period <= 3600:
                if self.link is not None:
                    self.link.heartbeat_override = period
                applied["heartbeat_period"] = period
            else:
                problems.append("heartbeat_period must be 1-3600 s")
        hold_ms = args.get("hold_ms")
        if hold_ms is not None:
            button = self.hardware.button
            stuck = getattr(button, "stuck_after", None)
            if (
                isinstance(hold_ms, int)
                and not isinstance(hold_ms, bool)
                and 0 <= hold_ms <= 10_000
                and (stuck is None or hold_ms / 1000 < stuck)
            ):
                button.hold_time = hold_ms / 1000
                applied["hold_ms"] = hold_ms
            else:
                problems.append("hold_ms must be 0-10000 and below the stuck-button time")
        volume = args.get("volume")
        if volume is not None:
            set_volume = getattr(self.hardware.speaker, "set_volume", None)
            if not isinstance(volume, int) or isinstance(volume, bool) or not 0 <= volume <= 100:
                problems.append("volume must be 0-100")
            elif set_volume is None:
                problems.append("this unit's speaker has no volume control")
            else:
                set_volume(volume)
                applied["volume"] = volume
        prompts = args.get("prompts")
        if prompts is not None:
            texts = getattr(self.hardware.speaker, "texts", None)
            if not isinstance(prompts, dict) or not all(
                k in PROMPTS and isinstance(v, str) and 0 < len(v) <= 500
                for k, v in prompts.items()
            ):
                problems.append(f"prompts must map known messages ({', '.join(PROMPTS)}) to text")
            elif not isinstance(texts, dict):
                problems.append("this unit's speaker plays fixed recordings; prompts unchanged")
            else:
                texts.update(prompts)
                applied["prompts"] = dict(prompts)
        detail = "; ".join(problems) if problems else "configuration applied"
        return CommandResult(not problems, detail, applied)

    def status(self) -> dict[str, Any]:
        """What heartbeats report about the unit."""
        return {
            "light": self.hardware.light.pattern.value,
            "button_pressed": self.hardware.button.is_pressed,
            "unacked": self.outbox.unacked_count(self.unit_id),
            **self.power.reading(),
        }

    def stats(self) -> AgentStats:
        """The unit's counters now."""
        link = self.link.stats if self.link is not None else None
        return AgentStats(
            unit_id=self.unit_id,
            activations=self.activations,
            appended=self.appended,
            acked=link.acked if link else 0,
            duplicates=link.duplicates if link else 0,
            resends=link.resends if link else 0,
            renumbers=link.renumbers if link else 0,
            unacked=self.outbox.unacked_count(self.unit_id),
            outbox_errors=self.outbox_errors,
            local_action_errors=self.local_action_errors,
            light=self.hardware.light.pattern.value,
            link=self.link.state.value if self.link is not None else "none",
        )

    def close(self) -> None:
        """Stop timers and release the hardware."""
        self._cancel_light_timer()
        self.hardware.close()

    def _goto_preset(self, preset: str) -> None:
        if self.calls is not None:
            # Before the camera moves: a fixed camera's digital zoom does not depend on it.
            self.calls.camera_preset(preset)
        self.hardware.camera.goto_preset(preset)

    def _report(self, event_type: str, payload: dict[str, Any]) -> OutboxEvent | None:
        at = time.monotonic()
        try:
            event = self.outbox.append(self.unit_id, event_type, payload)
        except OutboxError:
            # Nothing else can keep this event; shout, so the fault is found and fixed.
            with self._lock:
                self.outbox_errors += 1
            log.critical(
                "%s: %s could NOT be stored in the outbox", self.unit_id, event_type, exc_info=True
            )
            return None
        with self._lock:
            self.appended += 1
            self.last_event = event
        if self.on_event is not None:
            self.on_event(event, at)
        if self.link is not None:
            self.link.wake()
        return event

    def _local(self, what: str, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception:  # a broken lamp or speaker must never stop the press being reported
            with self._lock:
                self.local_action_errors += 1
            log.exception("%s: local action %s failed", self.unit_id, what)

    def _show_alarm(self) -> None:
        self.hardware.light.show(LightPattern.ALARM)
        self._cancel_light_timer()
        if self.alarm_light_seconds is not None:
            # A unit that never reaches the control room must not flash for ever.
            timer = self._timers(self.alarm_light_seconds, self._alarm_timed_out)
            with self._lock:
                self._light_timer = timer

    def _alarm_timed_out(self) -> None:
        with self._lock:
            self._light_timer = None
        if self.hardware.light.pattern is LightPattern.ALARM:
            self.hardware.light.show(LightPattern.OFF)

    def _cancel_light_timer(self) -> None:
        with self._lock:
            timer, self._light_timer = self._light_timer, None
        if timer is not None:
            timer.cancel()

    def _button_stuck(self, held: float) -> None:
        self.report_fault("button", f"button held for {held:.0f} s: stuck or jammed")
