"""A fleet of simulated help point units in one asyncio process, for the demo, tests and benchmarks.

Every unit is a real :class:`~helppoint.agent.unit.Agent` with its own
:class:`~helppoint.agent.link.DeviceLink` (its own WebSocket); they share one outbox SQLite file
(or memory). Presses go through the unit's button exactly as a finger would: gpiozero mock pins
for small fleets, :class:`~helppoint.agent.button.VirtualButton` beyond ``MAX_GPIO_MOCK_UNITS``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import random
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from helppoint.agent.backoff import Backoff
from helppoint.agent.button import Timers, loop_timers, thread_timers
from helppoint.agent.call import CallMedia, UnitCalls
from helppoint.agent.hardware import (
    UnitHardware,
    gpio_hardware,
    mock_pin_factory,
    virtual_hardware,
)
from helppoint.agent.link import AckHook, CommandResult, DeviceLink, LinkExit, LinkState
from helppoint.agent.outbox import MEMORY, Outbox, OutboxEvent
from helppoint.agent.stills import still_sender
from helppoint.agent.unit import Agent, AgentStats
from helppoint.calls.media import SIMULATED_SOUNDS

log = logging.getLogger(__name__)

#: Beyond this many units, gpiozero devices (a thread or two each) are not worth their cost.
MAX_GPIO_MOCK_UNITS = 50


class UnknownUnit(LookupError):
    """No unit of the fleet has this id."""


@dataclass
class EventTiming:
    """When one event happened on a unit and when the server acknowledged it (monotonic s)."""

    unit_id: str
    seq: int
    event: str = ""
    happened_at: float | None = None
    acked_at: float | None = None
    status: str | None = None

    @property
    def latency(self) -> float | None:
        """Seconds from the press to the ack, once both are known."""
        if self.happened_at is None or self.acked_at is None:
            return None
        return self.acked_at - self.happened_at


@dataclass
class SimulatedUnit:
    """One unit of the fleet."""

    unit_id: str
    hardware: UnitHardware
    agent: Agent
    link: DeviceLink
    #: Answers calls from the control room (a peer is made only while in a call).
    calls: UnitCalls | None = None
    task: asyncio.Task[LinkExit] | None = field(default=None, repr=False)


class _Signal:
    """Wakes waiters whenever something changed, so they re-check their condition."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        while True:
            # Clear before checking: a change after the check sets it again, so none is missed.
            self._event.clear()
            if predicate():
                return
            await self._event.wait()


class Fleet:
    """N simulated units, each with its own link, sharing one outbox."""

    def __init__(
        self,
        server_url: str,
        credentials: list[tuple[str, str]],
        outbox_path: str = MEMORY,
        *,
        heartbeat_override: float | None = None,
        gpio_mock: bool | None = None,
        hold_time: float = 0.0,
        bounce_time: float = 0.05,
        window: int = 32,
        on_ack: AckHook | None = None,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        auth_retry: float = 60.0,
        ramp_up: float = 0.0,
        alarm_light_seconds: float | None = 600.0,
        seed: int | None = None,
        call_media: CallMedia | None = None,
        stills: bool = True,
        source_address: str | None = None,
        microphone: str | None = None,
    ) -> None:
        unit_ids = [unit_id for unit_id, _ in credentials]
        if len(set(unit_ids)) != len(unit_ids):
            raise ValueError("each unit id may appear only once in a fleet")
        if gpio_mock is None:
            gpio_mock = len(credentials) <= MAX_GPIO_MOCK_UNITS
        if gpio_mock and len(credentials) > MAX_GPIO_MOCK_UNITS:
            raise ValueError(
                f"gpio_mock creates gpiozero devices and threads per unit; use it for at most "
                f"{MAX_GPIO_MOCK_UNITS} units, not {len(credentials)}"
            )
        self.server_url = server_url
        self.credentials = list(credentials)
        self.outbox_path = outbox_path
        self.heartbeat_override = heartbeat_override
        self.gpio_mock = gpio_mock
        self.hold_time = hold_time
        self.bounce_time = bounce_time
        self.window = window
        self.on_ack = on_ack
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.auth_retry = auth_retry
        self.ramp_up = ramp_up
        self.alarm_light_seconds = alarm_light_seconds
        self._rng = random.Random(seed)
        #: Synthetic call media by default: a speech-like tone and a test pattern.
        self.call_media = call_media or CallMedia()
        #: Send a test-pattern camera still on each activation (agent/stills.py), as a real
        #: unit's camera does: on by default, so the demo, tests and benchmarks show it.
        self.stills = stills
        if microphone is not None and microphone not in SIMULATED_SOUNDS:
            raise ValueError(f"a simulated microphone hears one of {', '.join(SIMULATED_SOUNDS)}")
        #: What the units' simulated microphones hear at first (None: call_media's input).
        self.microphone = microphone
        #: The local address the units connect from (helppoint/agent/link.py).
        self.source_address = source_address
        self._units: dict[str, SimulatedUnit] = {}
        self._outbox: Outbox | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._signal = _Signal()
        # Events are stored on button threads (mock pins) as well as on the loop.
        self._lock = threading.Lock()
        self._pending = 0
        self._timings: dict[tuple[str, int], EventTiming] = {}
        #: Units whose link the server has welcomed (kept by the links' state hook).
        self._connected: set[str] = set()

    @property
    def unit_ids(self) -> list[str]:
        """The units in the order they were given."""
        return [unit_id for unit_id, _ in self.credentials]

    @property
    def outbox(self) -> Outbox:
        """The shared outbox (after start)."""
        if self._outbox is None:
            raise RuntimeError("the fleet has not been started")
        return self._outbox

    @property
    def pending(self) -> int:
        """Events stored by the fleet's units and not yet acknowledged."""
        with self._lock:
            return self._pending

    @property
    def connected(self) -> int:
        """How many of the fleet's units are connected now (welcomed)."""
        return len(self._connected)

    async def start(self) -> None:
        """Open the outbox, build the units and start their links (does not wait for them)."""
        if self._outbox is not None:
            raise RuntimeError("the fleet is already started")
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._outbox = Outbox(self.outbox_path)
        self._pending = sum(self._outbox.unacked_counts(self.unit_ids).values())
        count = len(self.credentials)
        for index, (unit_id, key) in enumerate(self.credentials):
            unit = self._build_unit(unit_id, key)
            self._units[unit_id] = unit
            delay = self.ramp_up * index / count if count else 0.0
            unit.task = asyncio.create_task(self._run(unit, delay), name=f"unit-{unit_id}")
        log.info(
            "fleet of %d unit(s) started (%s buttons)",
            count,
            "gpiozero mock-pin" if self.gpio_mock else "virtual",
        )

    def _build_unit(self, unit_id: str, key: str) -> SimulatedUnit:
        assert self._loop is not None and self._outbox is not None
        timers: Timers
        if self.gpio_mock:
            hardware = gpio_hardware(
                pin_factory=mock_pin_factory(),
                bounce_time=self.bounce_time,
                hold_time=self.hold_time,
                stuck_after=None,
            )
            timers = thread_timers
        else:
            timers = loop_timers(self._loop)
            hardware = virtual_hardware(
                bounce_time=self.bounce_time, hold_time=self.hold_time, timers=timers
            )
        agent = Agent(
            unit_id,
            self._outbox,
            hardware,
            alarm_light_seconds=self.alarm_light_seconds,
            timers=timers,
            on_event=self._event_stored,
        )
        link = DeviceLink(
            self.server_url,
            unit_id,
            key,
            self._outbox,
            capabilities=hardware.capabilities,
            window=self.window,
            heartbeat_period=self.heartbeat_override,
            backoff=Backoff(self.backoff_base, self.backoff_cap, random.Random(self._rng.random())),
            auth_retry=self.auth_retry,
            status=agent.status,
            on_ack=self._acked,
            on_renumber=self._renumbered,
            on_state=self._state_changed,
            source_address=self.source_address,
        )
        agent.attach(link)
        if self.stills:
            agent.stills = still_sender(self.server_url, unit_id, key, "test-pattern")
        calls = UnitCalls(unit_id, self.call_media, agent.camera_preset)
        calls.microphone = self.microphone
        link.calls = calls
        agent.calls = calls
        return SimulatedUnit(unit_id, hardware, agent, link, calls)

    async def _run(self, unit: SimulatedUnit, delay: float) -> LinkExit:
        if delay > 0:
            await asyncio.sleep(delay)  # spread the fleet's first connections (ramp_up)
        return await unit.link.run()

    def unit(self, unit: str | int) -> SimulatedUnit:
        """A unit by id, or by its 1-based position in the fleet."""
        if isinstance(unit, int):
            if not 1 <= unit <= len(self.credentials):
                raise UnknownUnit(f"no unit number {unit}: the fleet has {len(self.credentials)}")
            unit = self.credentials[unit - 1][0]
        try:
            return self._units[unit]
        except KeyError:
            raise UnknownUnit(f"no unit {unit!r} in this fleet") from None

    def press(self, unit: str | int) -> OutboxEvent | None:
        """Press and release the unit's button; the stored activation, if it activated.

        A press within the debounce time of the last one, or any press when ``hold_time`` is
        set, does not activate (see :meth:`hold`).
        """
        target = self.unit(unit)
        loop = self._loop
        if not self.gpio_mock and loop is not None and threading.get_ident() != self._loop_thread:
            # Virtual buttons keep their timers on the loop: press from the loop's thread.
            future: concurrent.futures.Future[OutboxEvent | None] = concurrent.futures.Future()

            def press_on_loop() -> None:
                try:
                    future.set_result(self._press(target))
                except Exception as exc:  # hand any failure back to the calling thread
                    future.set_exception(exc)

            loop.call_soon_threadsafe(press_on_loop)
            return future.result(timeout=10)
        return self._press(target)

    @staticmethod
    def _press(target: SimulatedUnit) -> OutboxEvent | None:
        before = target.agent.activations
        target.hardware.button.press()
        target.hardware.button.release()
        return target.agent.last_event if target.agent.activations > before else None

    def presses_together(self) -> AbstractContextManager[None]:
        """Presses inside it are stored in one transaction of the fleet's outbox, durable as
        it ends, and sent after (`Outbox.together`): a flood from many units at once in a
        benchmark, without one fsync per press in this one process. No await inside."""
        return self.outbox.together()

    def hear(self, unit: str | int, sound: str) -> None:
        """What the unit's simulated microphone hears from now on: "voice" (a person asking
        for help), "silence", "noise" or "tone"; the server's press-time listening and calls
        get it (docs/triage.md)."""
        if sound not in SIMULATED_SOUNDS:
            raise ValueError(f"a simulated microphone hears one of {', '.join(SIMULATED_SOUNDS)}")
        target = self.unit(unit)
        assert target.calls is not None
        target.calls.microphone = sound

    async def hold(self, unit: str | int, seconds: float) -> None:
        """Hold the unit's button down for ``seconds``, then let go."""
        target = self.unit(unit)
        target.hardware.button.press()
        try:
            await asyncio.sleep(seconds)
        finally:
            target.hardware.button.release()

    def tamper(self, unit: str | int, detail: str = "simulated tamper") -> OutboxEvent | None:
        """Make the unit report tampering."""
        return self.unit(unit).agent.report_tamper(detail)

    def set_battery(self, unit: str | int, share: float) -> None:
        """Set the unit's battery charge (0.0-1.0); reported with its next heartbeat."""
        self.unit(unit).agent.power.set_battery(share)

    def set_mains(self, unit: str | int, present: bool) -> None:
        """Connect or cut the unit's mains power; reported with its next heartbeat."""
        self.unit(unit).agent.power.set_mains(present)

    def inject_fault(self, unit: str | int, part: str | None) -> None:
        """Make `part` fail the unit's self-tests (None: clear every injected fault)."""
        agent = self.unit(unit).agent
        if part is None:
            agent.injected_faults.clear()
        else:
            agent.injected_faults.add(part)

    def self_test(self, unit: str | int) -> CommandResult:
        """Run the unit's self-test now (it reports the result as an event)."""
        return self.unit(unit).agent.run_self_test()

    # A timeout parameter rather than asyncio.timeout() around the call: on expiry the error
    # names the units that are behind, which a caller's timeout could not.
    async def wait_connected(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Wait until every unit's link has been welcomed (TimeoutError otherwise)."""
        try:
            async with asyncio.timeout(timeout):
                await self._signal.wait_until(lambda: len(self._connected) == len(self._units))
        except TimeoutError:
            waiting = [u.unit_id for u in self._units.values() if not u.link.connected]
            raise TimeoutError(
                f"{len(waiting)} unit(s) not connected after {timeout} s: {_some(waiting)}"
            ) from None

    async def wait_all_acked(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Wait until the server has acknowledged every event (TimeoutError otherwise)."""
        try:
            async with asyncio.timeout(timeout):
                await self._signal.wait_until(lambda: self.pending <= 0)
        except TimeoutError:
            counts = self.outbox.unacked_counts(self.unit_ids)
            listing = [f"{unit}: {n}" for unit, n in sorted(counts.items())]
            raise TimeoutError(
                f"{self.pending} event(s) still unacknowledged after {timeout} s ({_some(listing)})"
            ) from None

    def stats(self, unit: str | int) -> AgentStats:
        """One unit's counters."""
        return self.unit(unit).agent.stats()

    def all_stats(self) -> list[AgentStats]:
        """Every unit's counters, in fleet order."""
        return [u.agent.stats() for u in self._units.values()]

    def timings(self) -> list[EventTiming]:
        """When each event happened and was acknowledged, for benchmarks."""
        with self._lock:
            return [EventTiming(**vars(t)) for t in self._timings.values()]

    def press_time(self, unit_id: str, seq: int) -> float | None:
        """When the event now numbered ``seq`` of ``unit_id`` happened (``time.monotonic()``)."""
        with self._lock:
            timing = self._timings.get((unit_id, seq))
            return timing.happened_at if timing is not None else None

    async def stop(self) -> None:
        """Close every link, stop timers and close the outbox."""
        units = list(self._units.values())
        for unit in units:
            unit.link.stop()
        tasks = [u.task for u in units if u.task is not None]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=5.0)
            for task in late:  # e.g. still waiting out its ramp-up delay
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for unit in units:
            if unit.calls is not None:
                await unit.calls.close()
            unit.agent.close()
        self._units.clear()
        if self._outbox is not None:
            self._outbox.close()
            self._outbox = None

    # Hooks called by agents and links.

    def _event_stored(self, event: OutboxEvent, at: float) -> None:
        with self._lock:
            self._pending += 1
            timing = self._timings.setdefault(
                (event.unit_id, event.seq), EventTiming(event.unit_id, event.seq)
            )
            timing.event = event.type
            timing.happened_at = at
        self._notify()

    def _acked(self, unit_id: str, seq: int, status: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._pending -= 1
            # The ack may overtake the hook of an event stored on a button thread.
            timing = self._timings.setdefault((unit_id, seq), EventTiming(unit_id, seq))
            timing.acked_at = now
            timing.status = status
        if self.on_ack is not None:
            self.on_ack(unit_id, seq, status)
        self._signal.notify()

    def _renumbered(self, unit_id: str, mapping: dict[int, int]) -> None:
        with self._lock:
            moved = {new: self._timings.pop((unit_id, old), None) for old, new in mapping.items()}
            for new, timing in moved.items():
                if timing is not None:
                    timing.seq = new
                    self._timings[(unit_id, new)] = timing

    def _state_changed(self, unit_id: str, state: LinkState) -> None:
        # Counted here so that waiting for N units is not N checks on every change.
        if state is LinkState.CONNECTED:
            self._connected.add(unit_id)
        else:
            self._connected.discard(unit_id)
        self._signal.notify()

    def _notify(self) -> None:
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._signal.notify()
        else:
            loop.call_soon_threadsafe(self._signal.notify)


def _some(items: list[str], limit: int = 10) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
