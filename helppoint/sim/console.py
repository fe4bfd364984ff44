"""The interactive console of ``helppoint simulate``: press, hold and tamper units by hand."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from helppoint.agent.selftest import PARTS
from helppoint.sim.fleet import Fleet, UnknownUnit

log = logging.getLogger(__name__)

HELP = """\
commands:
  press UNIT           press and release the button (UNIT: an id such as HP-01, or its number)
  hold UNIT SECONDS    hold the button down for SECONDS
  tamper UNIT          report tampering
  battery UNIT PERCENT set the battery charge (0-100), reported with the next heartbeat
  mains UNIT on|off    connect or cut mains power
  fault UNIT PART      make PART (light, camera, speaker, microphone) fail self-tests;
                       PART "none" clears every injected fault
  selftest UNIT        run the unit's self-test now
  hear UNIT SOUND      what the unit's microphone hears: voice, silence, noise or tone
  status               show every unit's link, light and outbox
  help                 show this help
  quit                 stop the simulation"""


class ConsoleError(ValueError):
    """A command line the console cannot carry out; the message says why."""


class FleetConsole:
    """Carries out console commands on a fleet; output goes to ``write``."""

    def __init__(self, fleet: Fleet, write: Callable[[str], None]) -> None:
        self.fleet = fleet
        self.write = write
        self._holds: set[asyncio.Task[None]] = set()

    async def handle(self, line: str) -> bool:
        """Carry out one command line; False once the user asked to quit."""
        words = line.split()
        if not words:
            return True
        command, args = words[0].lower(), words[1:]
        try:
            if command in ("quit", "exit"):
                self._expect(command, args, 0)
                return False
            if command == "help":
                self.write(HELP)
            elif command == "status":
                self._expect(command, args, 0)
                self.write(self.status())
            elif command == "press":
                self._expect(command, args, 1)
                self._press(args[0])
            elif command == "hold":
                self._expect(command, args, 2)
                self._hold(args[0], args[1])
            elif command == "tamper":
                self._expect(command, args, 1)
                unit = self._unit(args[0])
                event = self.fleet.tamper(unit)
                self.write(f"{unit}: tamper reported" + (f" (seq {event.seq})" if event else ""))
            elif command in ("battery", "mains", "fault", "selftest"):
                self._health(command, args)
            elif command == "hear":
                self._expect(command, args, 2)
                unit = self._unit(args[0])
                try:
                    self.fleet.hear(unit, args[1].lower())
                except ValueError as exc:
                    raise ConsoleError(str(exc)) from None
                self.write(f"{unit}: the microphone hears {args[1].lower()}")
            else:
                raise ConsoleError(
                    f"unknown command {command!r}; try press, hold, tamper, battery, mains, "
                    "fault, selftest, hear, status, help or quit"
                )
        except ConsoleError as exc:
            self.write(f"error: {exc}")
        return True

    def status(self) -> str:
        """A table of every unit: link state, light, events stored, acked and waiting."""
        header = f"{'unit':<12} {'link':<12} {'light':<7} {'events':>6} {'acked':>6} {'waiting':>7}"
        lines = [header]
        for stats in self.fleet.all_stats():
            lines.append(
                f"{stats.unit_id:<12} {stats.link:<12} {stats.light:<7} {stats.appended:>6} "
                f"{stats.acked:>6} {stats.unacked:>7}"
            )
        return "\n".join(lines)

    def _health(self, command: str, args: list[str]) -> None:
        if command == "selftest":
            self._expect(command, args, 1)
            unit = self._unit(args[0])
            result = self.fleet.self_test(unit)
            self.write(f"{unit}: {result.detail}")
            return
        self._expect(command, args, 2)
        unit, value = self._unit(args[0]), args[1].lower()
        if command == "battery":
            try:
                percent = float(value.rstrip("%"))
            except ValueError:
                raise ConsoleError(f"PERCENT must be a number, not {args[1]!r}") from None
            if not 0 <= percent <= 100:
                raise ConsoleError("PERCENT must be from 0 to 100")
            self.fleet.set_battery(unit, percent / 100)
            self.write(f"{unit}: battery at {percent:g} %")
        elif command == "mains":
            if value not in ("on", "off"):
                raise ConsoleError("usage: mains UNIT on|off")
            self.fleet.set_mains(unit, value == "on")
            self.write(f"{unit}: mains {value}")
        else:
            if value != "none" and value not in PARTS:
                raise ConsoleError(f"PART must be one of {', '.join(PARTS)} or none")
            self.fleet.inject_fault(unit, None if value == "none" else value)
            self.write(
                f"{unit}: injected faults cleared"
                if value == "none"
                else f"{unit}: {value} will fail self-tests"
            )

    def cancel_holds(self) -> None:
        """Let go of any button still held (on quit)."""
        for task in self._holds:
            task.cancel()

    def _press(self, name: str) -> None:
        unit = self._unit(name)
        event = self.fleet.press(unit)
        if event is None:
            reason = (
                "hold_time is set: use hold"
                if self.fleet.hold_time > 0
                else "within the debounce time of the last press"
            )
            self.write(f"{unit}: pressed, no activation ({reason})")
        else:
            self.write(f"{unit}: pressed; activation stored as seq {event.seq}")

    def _hold(self, name: str, seconds_text: str) -> None:
        unit = self._unit(name)
        try:
            seconds = float(seconds_text)
        except ValueError:
            raise ConsoleError(f"SECONDS must be a number, not {seconds_text!r}") from None
        if not 0 < seconds <= 3600:
            raise ConsoleError("SECONDS must be more than 0 and at most 3600")
        task = asyncio.create_task(self.fleet.hold(unit, seconds))
        self._holds.add(task)
        task.add_done_callback(self._holds.discard)
        self.write(f"{unit}: holding the button for {seconds:g} s")

    def _unit(self, name: str) -> str:
        target: str | int = int(name) if name.isdigit() else name
        try:
            return self.fleet.unit(target).unit_id
        except UnknownUnit:
            pass
        # Be forgiving about case: "hp-01" means HP-01.
        matches = [u for u in self.fleet.unit_ids if u.lower() == name.lower()]
        if len(matches) == 1:
            return matches[0]
        ids = self.fleet.unit_ids
        shown = ", ".join(ids[:8]) + (" …" if len(ids) > 8 else "")
        raise ConsoleError(f"no unit {name!r}; units are {shown} (or 1-{len(ids)})")

    @staticmethod
    def _expect(command: str, args: list[str], count: int) -> None:
        if len(args) != count:
            usage = {
                "press": "press UNIT",
                "hold": "hold UNIT SECONDS",
                "tamper": "tamper UNIT",
                "battery": "battery UNIT PERCENT",
                "mains": "mains UNIT on|off",
                "fault": "fault UNIT PART",
                "selftest": "selftest UNIT",
                "hear": "hear UNIT voice|silence|noise|tone",
                "status": "status",
                "quit": "quit",
                "exit": "exit",
            }[command]
            raise ConsoleError(f"usage: {usage}")
