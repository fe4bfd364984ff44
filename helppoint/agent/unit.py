"""The Agent: what a help point unit does when its button is pressed, and how it obeys commands.

Local actions come first and never wait for anything: the light flashes, the camera turns to
its zoom preset and the "connecting you" prompt plays at once, even with no network. Then the
event is written to the outbox (durably) and the link is woken to send it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from helppoint.agent.button import Cancellable, Timers, thread_timers
from helppoint.agent.hardware import UnitHardware
from helppoint.agent.light import LightPattern
from helppoint.agent.link import CommandResult, DeviceLink
from helppoint.agent.media import PROMPTS, UnknownPrompt
from helppoint.agent.outbox import Outbox, OutboxError, OutboxEvent

log = logging.getLogger(__name__)

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
        self.alarm_light_seconds = alarm_light_seconds
        self.on_event = on_event
        self.link: DeviceLink | None = None
        #: The most recent event this agent stored.
        self.last_event: OutboxEvent | None = None
        self.activations = 0
        self.appended = 0
        self.outbox_errors = 0
        self.local_action_errors = 0
        self._timers = timers
        self._lock = threading.Lock()
        self._light_timer: Cancellable | None = None
        hardware.button.on_activate = self._pressed
        hardware.button.on_stuck = self._button_stuck

    def attach(self, link: DeviceLink) -> None:
        """Use ``link`` to deliver events; it is woken whenever one is stored."""
        self.link = link
        link.commands = self.execute

    def activate(self, held_ms: int = 0) -> OutboxEvent | None:
        """The button was pressed: act locally at once, then store and send the activation."""
        with self._lock:
            self.activations += 1
        self._local("light", lambda: self._show_alarm())
        self._local("camera", lambda: self.hardware.camera.goto_preset(self.camera_preset))
        self._local("speaker", lambda: self.hardware.speaker.play("connecting"))
        return self._report("activation", {"hold_ms": held_ms})

    def _pressed(self, held_ms: int) -> None:
        self.activate(held_ms)

    def report_tamper(self, detail: str = "") -> OutboxEvent | None:
        """Report that the unit's housing or camera was interfered with."""
        return self._report("tamper", {"detail": detail} if detail else {})

    def report_fault(self, fault: str, detail: str = "") -> OutboxEvent | None:
        """Report a broken part (``light``, ``camera``, ``speaker``, ``button`` …)."""
        return self._report("fault", {"fault": fault, "detail": detail})

    def report_self_test(self, checks: dict[str, bool]) -> OutboxEvent | None:
        """Report the result of a self-test; it passed if every check passed."""
        return self._report("self_test", {"passed": all(checks.values()), "checks": checks})

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
            self.hardware.camera.goto_preset(preset)
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
