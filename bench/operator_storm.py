#!/usr/bin/env python3
"""Triage at storm scale, measured: the real console in Debian's Chromium, a storm of presses,
one genuine caller among them, and operators acting like fast humans.

    .venv/bin/python bench/operator_storm.py [--rounds 3] [--units 50] [--presses 50]
        [--storm-seconds 3] [--operators 1 2] [--flow take|storm] [--think 0.4] [--json FILE]
        [--fleet-process] [--profile-server DIR]

Each round starts a fresh server (`helppoint serve`, its own process, SQLite), provisions the
units with a trigger plan whose police action is a webhook to a receiver in this process, and
runs the units as a simulated fleet (real agents, WebSockets, camera stills and press-time
audio over WebRTC: every microphone hears silence except the genuine unit's, which hears the
spoken sample, so the server's voice detector judges it "voice"). Then the storm: PRESSES
presses of different units in STORM_SECONDS; the genuine unit is one of them, at a position
drawn per round.

The operators are scripts that read the screen and press keys, one decision per THINK
seconds (a fast human's reading time):

- one operator uses the storm view: g, then f on the focused tile if the screen says it was
  judged silent (else a click on a silent tile first); a tile that says "voice heard" is
  clicked, taken with Enter, classified "imminent threat" and escalated; tiles not judged yet
  are waited for, never closed blind;
- several operators, --flow take (the default): each presses w (take the next unclaimed
  alarm; the server picks it, a voice heard first), waits for the panel's voice indicator and
  presses f if silent, or escalates if a voice was heard (an alarm still unjudged after 90 s
  is closed all the same, and counted);
- several operators, --flow storm: each uses the storm view as the one operator does, working
  from their own part of the grid (two: one from the front, one from the back); one of them
  takes the genuine caller. A colleague's close of the same tile counts as a refusal.

Evidence first: no operator closes an alarm whose judgement has not reached the screen.

Printed per round and as median and spread over the rounds: actions and seconds per false
activation (median, worst), time to clear the storm (first press until every false alarm is
closed and the genuine one escalated), the share of alarms accepted (acknowledged) within 30 s
and 60 s, press -> police notified (the webhook arriving) for the genuine one, the peak number
of toasts on screen, overlapping alarm patterns (Web Audio instrumented in the page), and
refusals (a colleague was faster).

Where the time from a press to its judgement on the screen goes, per alarm of the storm
(median and 90th percentile over its alarms): press -> the alarm committed and published to
the server's listener, the offer made and sent to the unit, the unit's answer, ICE, DTLS, the
first audio packet, the first judgement, stored, shown on the console. The server's side comes
from its log ("press listen timings", helppoint/calls/listen.py; the server runs at log level
info for it), on the machine's monotonic clock, which the benchmark shares. And the CPU each
part used in the storm's first 30 s: the server's event loop and its other threads, the
simulated fleet, the operators' scripts, Chromium (with Playwright's driver), and the rest of
the machine (other people's work on a shared machine).

--fleet-process runs the simulated units in a process of their own instead of a thread of the
benchmark's (real units are devices of their own: this takes their CPU off the benchmark's
interpreter, though not off the machine's two cores). --profile-server DIR runs each round's
server under cProfile and leaves its statistics in DIR (the event loop's thread only).

Not a test: nothing here passes or fails. See docs/performance.md for figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from playwright.async_api import Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))  # (tests/faults imports tests.ports)

from e2e.harness import AUDIO_PROBE, CHROMIUM, CHROMIUM_ARGS, OVERLAPS, VIEWPORT  # noqa: E402
from faults.server_process import ServerProcess  # noqa: E402

from helppoint.agent.call import CallMedia  # noqa: E402
from helppoint.domain.model import Role  # noqa: E402
from helppoint.services.operators import add_operator  # noqa: E402
from helppoint.services.plans import import_plan  # noqa: E402
from helppoint.services.units import ensure_zone, provision_unit  # noqa: E402
from helppoint.sim.fleet import Fleet  # noqa: E402
from helppoint.store.database import make_engine, make_session_factory  # noqa: E402
from helppoint.store.migrate import upgrade  # noqa: E402
from helppoint.store.uow import UnitOfWork  # noqa: E402

PASSWORD = "benchmark-password"
#: How often the operator script looks at the screen while waiting (not requestAnimationFrame:
#: a loaded machine may starve a page's animation frames).
POLL_MS = 100
#: Nothing listens on port 9: every map tile fails at once, as with no internet.
NO_TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"

PLAN = """\
plan: Bench town
zone: bench
police:
  urn: BENCH-0001
  phone: "101"
rules:
  - when: imminent_threat
    actions:
      - notify: police
        channel: webhook
        to: {url}/police
        template: "Imminent threat at {{unit_name}} ({{ref}})"
        ack_within: 120
"""

#: Counts the most toasts on screen at any moment, in window.__peakToasts.
TOAST_PROBE = """
(() => {
  window.__peakToasts = 0;
  const watch = () => {
    const box = document.getElementById("toasts");
    if (!box) return;
    const count = () => {
      window.__peakToasts = Math.max(window.__peakToasts, box.children.length);
    };
    new MutationObserver(count).observe(box, { childList: true });
  };
  document.addEventListener("DOMContentLoaded", watch);
})();
"""

#: The console's main thread: tasks of over 50 ms (Chromium's long tasks), counted and summed
#: in window.__longTasks, so a round can say how busy the page was while the storm came in.
LONG_TASK_PROBE = """
(() => {
  window.__longTasks = { count: 0, ms: 0, longest: 0 };
  try {
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        window.__longTasks.count += 1;
        window.__longTasks.ms += entry.duration;
        window.__longTasks.longest = Math.max(window.__longTasks.longest, entry.duration);
      }
    }).observe({ type: "longtask", buffered: true });
  } catch (error) {
    console.warn("no long task timing here", error);
  }
})();
"""

#: What an operator reads of the storm view: each tile's incident, unit, voice, holder, state.
READ_TILES = """
() => [...document.querySelectorAll("#storm-grid .tile")].map((t) => ({
  id: Number(t.dataset.id), unit: t.dataset.unit, voice: t.dataset.voice,
  holder: t.dataset.holder, state: t.dataset.state, focused: t.classList.contains("focused"),
  busy: t.querySelector(".tile-weed")?.disabled ?? true,
}))
"""

#: What an operator reads of the incident panel: which incident, its voice, holder and state.
READ_PANEL = """
() => {
  const article = document.querySelector("#incident-panel article");
  const voice = document.querySelector("#incident-voice");
  const state = document.querySelector("#incident-panel .incident-head .state");
  return article ? { id: Number(article.dataset.id), voice: voice ? voice.dataset.voice : "",
    state: state ? state.textContent : "" } : null;
}
"""


@dataclass
class Operator:
    """What one operator did."""

    name: str
    actions: int = 0  # since the last false activation closed
    per_false: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    last_close: float = 0.0
    refusals: int = 0
    genuine_actions: int = 0
    view_switches: int = 0
    unjudged: int = 0
    lingered: int = 0  # closed by this operator, yet its tile stayed on screen over GONE_WAIT_MS
    #: Take flow: per alarm taken, seconds in each part of the cycle (TAKE_CYCLE) and when the
    #: cycle started (seconds after the storm's start, "at").
    cycles: list[dict[str, float]] = field(default_factory=list)


#: The parts of the take flow's cycle per alarm, in order.
TAKE_CYCLE = (
    "think before w",
    "w answered (taken)",
    "shown in the panel",
    "judgement on the screen",
    "think before f",
    "f to the row gone",
)


@dataclass
class Round:
    operators: int
    genuine_unit: str
    genuine_position: int
    actions_median: float
    actions_worst: int
    #: How many false activations took 1, 2, 3 … actions.
    actions_histogram: dict[int, int]
    seconds_median: float
    seconds_worst: float
    clear_seconds: float
    accepted_30s: float
    accepted_60s: float
    press_to_police: float | None
    escalated_after_press: float | None
    #: From the genuine press until its console first showed "voice heard" (the evidence path).
    voice_shown_after_press: float | None
    #: From the storm's first press until 90 % of its alarms showed a judgement.
    judged_90_after_start: float | None
    peak_toasts: int
    overlapping_patterns: int
    refusals: int
    view_switches: int
    genuine_actions: int
    #: False activations closed although no judgement had reached the screen after 90 s.
    closed_unjudged: int
    closed_false: int
    lingered: int
    load_average: float
    #: Per step from press to judgement shown: [median, 90th percentile] over the alarms (s).
    phases: dict[str, list[float]] = field(default_factory=dict)
    #: CPU seconds used in the storm's first 30 s, by part (see cpu_parts()).
    cpu: dict[str, float] = field(default_factory=dict)
    #: The alarms accepted later than 30 s after they were received: where their time went
    #: (see missed_breakdown()).
    missed: dict[str, float] = field(default_factory=dict)
    #: The consoles' main threads in the storm's first 30 s, summed over the consoles: long
    #: tasks (over 50 ms), their milliseconds, the longest.
    console_busy: dict[str, float] = field(default_factory=dict)
    #: Take flow: per part of an operator's cycle, [median of the cycles begun in the first
    #: 30 s, median of the later ones] (s); see take_cycles().
    take_cycle: dict[str, list[float]] = field(default_factory=dict)


class PoliceReceiver:
    """The police control room's webhook: remembers when each notification arrived."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, bytes]] = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.arrivals.append((time.monotonic(), body))
                receiver.arrived.set()
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FleetThread:
    """The simulated units on their own event loop (presses come from the storm's thread)."""

    def __init__(self, base_url: str, credentials: list[tuple[str, str]], genuine: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.fleet = Fleet(
            base_url,
            credentials,
            call_media=CallMedia(),
            microphone="silence",
            backoff_base=0.2,
            backoff_cap=1.0,
        )
        self.run(self.fleet.start())
        self.run(self.fleet.wait_connected(60))
        self.fleet.hear(genuine, "voice")
        #: The process the units run in (this one).
        self.pid = os.getpid()

    def run(self, coro: Any, timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def press(self, unit: str) -> None:
        self.fleet.press(unit)

    def stop(self) -> None:
        self.run(self.fleet.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def _fleet_process_main(
    base_url: str, credentials: list[tuple[str, str]], genuine: str, conn: Connection
) -> None:
    """The fleet in a process of its own: presses and a stop come over the pipe."""
    fleet = FleetThread(base_url, credentials, genuine)
    conn.send(os.getpid())
    while True:
        command, unit = conn.recv()
        if command == "press":
            try:
                fleet.press(unit)
                conn.send(None)
            except Exception as exc:  # handed back to the benchmark, which stops
                conn.send(repr(exc))
            continue
        fleet.stop()
        conn.send(None)
        return


class FleetProcess:
    """The simulated units in their own process (--fleet-process), pressed over a pipe."""

    def __init__(self, base_url: str, credentials: list[tuple[str, str]], genuine: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_fleet_process_main, args=(base_url, credentials, genuine, child), daemon=True
        )
        self.process.start()
        if not self.conn.poll(180):
            self.process.kill()
            raise RuntimeError("the fleet process did not connect its units in time")
        self.pid = int(self.conn.recv())

    def press(self, unit: str) -> None:
        self.conn.send(("press", unit))
        failure = self.conn.recv()
        if failure is not None:
            raise RuntimeError(f"pressing {unit} failed in the fleet process: {failure}")

    def stop(self) -> None:
        with contextlib.suppress(OSError, EOFError):
            self.conn.send(("stop", ""))
            if self.conn.poll(30):
                self.conn.recv()
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


# ---------- where the CPU goes (Linux /proc) ----------

_TICK = os.sysconf("SC_CLK_TCK")


def _stat_cpu(path: str) -> float:
    """CPU seconds (user + system) of the process or thread whose stat file this is."""
    try:
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _cmdline(pid: int) -> str:
    """The command line of a process ("" once it has gone)."""
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def _children(pid: int) -> list[int]:
    """Every living descendant process of ``pid``."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / _TICK


def cpu_parts(server_pid: int, fleet_pid: int) -> dict[str, float]:
    """CPU seconds used so far by each part of the benchmark, and by the machine."""
    me = os.getpid()
    server = _stat_cpu(f"/proc/{server_pid}/stat")
    loop = _stat_cpu(f"/proc/{server_pid}/task/{server_pid}/stat")
    bench = _stat_cpu(f"/proc/{me}/stat")
    bench_main = _stat_cpu(f"/proc/{me}/task/{me}/stat")
    browsers = driver = renderers = 0.0
    for pid in _children(me):
        if pid in (server_pid, fleet_pid):
            continue
        used = _stat_cpu(f"/proc/{pid}/stat")
        browsers += used
        command = _cmdline(pid)
        if "playwright" in command and "chromium" not in command:
            driver += used
        elif "--type=renderer" in command:
            renderers += used
    if fleet_pid == me:  # the fleet's loop and threads are all of this process but its main
        fleet, scripts = bench - bench_main, bench_main
    else:
        fleet, scripts = _stat_cpu(f"/proc/{fleet_pid}/stat"), bench
    parts = {
        "server event loop": loop,
        "server other threads": server - loop,
        "fleet (simulated units)": fleet,
        "operators' scripts": scripts,
        "chromium and its driver": browsers,
        "  of which the consoles' pages (renderers)": renderers,
        "  of which Playwright's driver": driver,
    }
    parts["machine (all)"] = _machine_busy()
    return parts


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds per part between two cpu_parts(); "rest of the machine" is what none of
    the benchmark's parts used (other work on a shared machine)."""
    used = {name: round(max(0.0, after[name] - before[name]), 1) for name in before}
    ours = sum(v for name, v in used.items() if name != "machine (all)" and "of which" not in name)
    used["rest of the machine"] = round(max(0.0, used["machine (all)"] - ours), 1)
    return used


# ---------- where the time from press to judgement goes (the server's log) ----------

_TIMINGS = re.compile(r"press listen timings: unit=(\S+) incident=\d+ seen=([\d.]+) (.*?) listens=")
_MARK = re.compile(r"(\w+)=\+([\d.]+)")
#: The steps from a press to its judgement on the console, each from the end of the previous.
PHASES = (
    ("press -> committed, at the listener", "seen"),
    ("offer made and sent", "offered"),
    ("unit's answer", "answered"),
    ("ICE", "ice"),
    ("DTLS", "dtls"),
    ("first audio packet", "first_packet"),
    ("first judgement", "judged"),
    ("judgement stored", "stored"),
    ("shown on the console", "shown"),
)


def listen_phases(
    log_path: Path, press_times: dict[str, float], shown: dict[str, float]
) -> dict[str, list[float]]:
    """Per step (PHASES) and in total, [median, 90th percentile] over the storm's alarms."""
    steps: dict[str, list[float]] = {name: [] for name, _ in PHASES}
    totals: dict[str, list[float]] = {"press -> stored": [], "press -> shown": []}
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    for match in _TIMINGS.finditer(text):
        unit, seen = match[1], float(match[2])
        if unit not in press_times:
            continue
        marks = {"seen": seen}
        marks.update({name: seen + float(value) for name, value in _MARK.findall(match[3])})
        if unit in shown:
            marks["shown"] = shown[unit]
        previous = press_times[unit]
        for name, mark in PHASES:
            if mark not in marks:
                break
            steps[name].append(marks[mark] - previous)
            previous = marks[mark]
        if "stored" in marks:
            totals["press -> stored"].append(marks["stored"] - press_times[unit])
        if "shown" in marks:
            totals["press -> shown"].append(marks["shown"] - press_times[unit])
    return {
        name: [round(statistics.median(values), 2), round(_percentile(values, 0.9), 2)]
        for name, values in {**steps, **totals}.items()
        if values
    }


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def provision(url: str, units: int, police_url: str, operators: int) -> list[tuple[str, str]]:
    """Units spread over about a square kilometre of a town, the plan, the operators."""
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    credentials = []
    uow = UnitOfWork(factory)
    with uow:
        ensure_zone(uow, "bench", "Bench town")
        uow.flush()
        for n in range(units):
            lat = 52.236 + (n // 8) * 0.0015
            lon = -0.896 + (n % 8) * 0.0020
            unit = provision_unit(
                uow, f"B{n + 1:02d}", f"Bench street {n + 1}", "bench", lat, lon, actor="bench"
            )
            credentials.append((unit.unit_id, unit.key))
        uow.commit()
    import_plan(UnitOfWork(factory), PLAN.format(url=police_url), "bench")
    for n in range(operators):
        add_operator(UnitOfWork(factory), f"op{n + 1}", PASSWORD, Role.OPERATOR)
    engine.dispose()
    return credentials


async def open_console(browser: Any, base_url: str, username: str) -> Page:
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    await page.add_init_script(AUDIO_PROBE)
    await page.add_init_script(TOAST_PROBE)
    await page.add_init_script(LONG_TASK_PROBE)
    await page.goto(f"{base_url}/login", wait_until="domcontentloaded")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{base_url}/")
    await page.wait_for_function(
        "() => document.querySelector('#link-status').textContent === 'Live'", polling=POLL_MS
    )
    # The start of the shift: the operator allows the alarm sound.
    await page.locator("#sound-enable").click()
    return page


class Scenario:
    """One storm: shared state the operators read (what has been pressed) and write."""

    def __init__(self, presses: int, genuine: str) -> None:
        self.presses = presses
        self.genuine = genuine
        self.pressed = 0
        self.press_times: dict[str, float] = {}
        self.start = 0.0
        self.escalated_at: float | None = None
        self.genuine_claimed = asyncio.Lock()
        self.genuine_done = False
        self.done = asyncio.Event()
        self.closed_false = 0
        self.last_close = 0.0

    def all_pressed(self) -> bool:
        return self.pressed >= self.presses

    def finished(self) -> bool:
        return self.all_pressed() and self.genuine_done and self.closed_false >= self.presses - 1


async def act(op: Operator, page: Page, key: str, genuine: bool = False) -> None:
    """One key press: counted for the false activation being worked on, or the genuine call."""
    if genuine:
        op.genuine_actions += 1
    else:
        op.actions += 1
    await page.keyboard.press(key)


async def click(op: Operator, page: Page, selector: str, genuine: bool = False) -> None:
    """One click, counted as act() counts a key."""
    if genuine:
        op.genuine_actions += 1
    else:
        op.actions += 1
    await page.locator(selector).click()


async def closed(op: Operator, scenario: Scenario) -> None:
    now = time.monotonic()
    op.per_false.append(op.actions)
    op.seconds.append(now - (op.last_close or scenario.start))
    op.actions = 0
    op.last_close = now
    scenario.closed_false += 1
    scenario.last_close = now


#: How long an operator waits for a closed alarm to leave the screen. On a machine loaded by
#: other work the page can take many seconds to redraw: with 10 s, a close the server had made
#: in the take flow went uncounted (the row was still there) and the round never ended.
GONE_WAIT_MS = 60_000


async def gone(page: Page, selector: str) -> bool:
    """Whether the element left the screen (the alarm was closed); False if it stayed (refused)."""
    try:
        await page.wait_for_selector(selector, state="detached", timeout=GONE_WAIT_MS)
    except PlaywrightTimeout:
        return False
    return True


async def escalate_in_panel(op: Operator, page: Page, scenario: Scenario, think: float) -> None:
    """The genuine caller: classify as an imminent threat and escalate (police notified)."""
    await page.wait_for_function(
        "() => document.querySelector('#classification')"
        " && !document.querySelector('#classification').disabled",
        polling=POLL_MS,
    )
    await asyncio.sleep(think)
    op.genuine_actions += 1
    await page.locator("#classification").select_option("imminent_threat")
    await click(op, page, "#classify-button", genuine=True)
    await page.wait_for_function(
        "() => !document.querySelector('#escalate-button').disabled", polling=POLL_MS
    )
    await click(op, page, "#escalate-button", genuine=True)
    await page.wait_for_function(
        "() => document.querySelector('#incident-panel .incident-head .state')?.textContent"
        " === 'Escalated'",
        polling=POLL_MS,
    )
    scenario.escalated_at = time.monotonic()
    scenario.genuine_done = True


async def weed_out_focused(op: Operator, page: Page, tile_id: int) -> bool:
    """f on the focused tile; whether this operator's weed-out closed it (False: refused, a
    colleague was faster, or the key went nowhere). The server's answer says so: a tile that
    stays on screen after a successful close is counted apart (`lingered`), not as a refusal,
    or the storm would never be finished."""
    try:
        async with page.expect_response(
            lambda r: r.url.endswith(f"/api/incidents/{tile_id}/weed-out"), timeout=15_000
        ) as answer:
            await act(op, page, "f")
        if not (await answer.value).ok:
            return False
    except PlaywrightTimeout:
        return False
    if not await gone(page, f"#storm-grid .tile[data-id='{tile_id}']"):
        op.lingered += 1
    return True


def lane_target(silent: list[dict[str, Any]], lane: int, lanes: int) -> dict[str, Any]:
    """The silent tile an operator works on next: the first, or with colleagues in the storm
    view each from their own part of the grid (two: one from the front, one from the back)."""
    if lanes <= 1 or lane == 0:
        return silent[0]
    if lane == lanes - 1:
        return silent[-1]
    return silent[min(len(silent) - 1, lane * len(silent) // lanes)]


async def storm_operator(
    op: Operator, page: Page, scenario: Scenario, think: float, lane: int = 0, lanes: int = 1
) -> None:
    """Storm view: one key per tile judged silent; the voice tile escalated (by one operator).
    With colleagues (lanes > 1) each works from their own part of the grid."""
    await page.wait_for_selector(".queue-row")
    # The alarms pour in; once the console says more wait than the queue shows, the storm view.
    with contextlib.suppress(PlaywrightTimeout):
        await page.wait_for_selector("#storm-open.suggested", timeout=10_000)
    await asyncio.sleep(think)
    # Once per storm, not per alarm: counted apart from the false activations' actions.
    op.view_switches += 1
    await page.keyboard.press("g")
    while not scenario.finished():
        tiles = await page.evaluate(READ_TILES)
        open_tiles = [t for t in tiles if t["state"] == "new" or t["holder"] == op.name]
        voice = next(
            (t for t in open_tiles if t["voice"] == "voice" and t["state"] != "escalated"), None
        )
        if (
            voice is not None
            and not scenario.genuine_done
            and not scenario.genuine_claimed.locked()
        ):
            async with scenario.genuine_claimed:  # one operator takes the genuine caller
                await asyncio.sleep(think)
                if not voice["focused"]:
                    tile = f"#storm-grid .tile[data-id='{voice['id']}']"
                    await click(op, page, tile, genuine=True)
                await act(op, page, "Enter", genuine=True)  # acknowledged, open in the panel
                await escalate_in_panel(op, page, scenario, think)
                await act(op, page, "g", genuine=True)  # back to the storm view
            continue
        silent = [t for t in open_tiles if t["voice"] == "silent" and not t["busy"]]
        if not silent and lanes > 1:
            # A colleague has the genuine caller, or nothing is judged yet: look again soon.
            await asyncio.sleep(POLL_MS / 1000)
            continue
        if not silent:
            # Nothing judged yet: wait for the screen to change (a judgement or a new alarm).
            await page.wait_for_function(
                "() => document.querySelector('#storm-grid .tile[data-voice=\"silent\"]')"
                " || document.querySelector('#storm-grid .tile[data-voice=\"voice\"]')",
                timeout=60_000,
                polling=POLL_MS,
            )
            continue
        await asyncio.sleep(think)
        # The focused tile if it is silent and in this operator's part of the grid (after a
        # close the console focuses the next one: one key per tile), else their next one.
        focused = next((n for n, t in enumerate(silent) if t["focused"]), None)
        if focused is not None and focused * lanes // len(silent) == lane:
            target = silent[focused]
        else:
            target = lane_target(silent, lane, lanes)
        if not target["focused"]:
            await click(op, page, f"#storm-grid .tile[data-id='{target['id']}']")
        if await weed_out_focused(op, page, target["id"]):
            await closed(op, scenario)
    scenario.done.set()


async def take_next_operator(op: Operator, page: Page, scenario: Scenario, think: float) -> None:
    """One of several operators: w (take the next unclaimed alarm), read, then f or escalate."""
    await page.wait_for_selector(".queue-row")
    while not scenario.finished():
        began = time.monotonic()
        marks = [began]
        await asyncio.sleep(think)
        marks.append(time.monotonic())
        async with page.expect_response("**/api/incidents/take-next") as answer_info:
            await act(op, page, "w")
        answer = await (await answer_info.value).json()
        marks.append(time.monotonic())
        taken = answer.get("incident")
        if taken is None:
            op.actions -= 1  # nothing to take: a glance, not work on an alarm
            if scenario.finished():
                break
            # Wait for something new to take (or for the storm to be over).
            for _ in range(40):
                if scenario.finished():
                    break
                await asyncio.sleep(0.25)
                waiting = await page.evaluate(
                    "() => document.querySelectorAll('.queue-row[data-state=\"new\"]').length"
                )
                if waiting:
                    break
            continue
        try:
            await page.wait_for_function(
                "(id) => { const a = document.querySelector('#incident-panel article');"
                " return a && Number(a.dataset.id) === id; }",
                arg=taken["id"],
                timeout=15_000,
                polling=POLL_MS,
            )
        except PlaywrightTimeout:
            # Not shown (the page was busy): the operator clicks its row, as a person would.
            print(
                f"  {op.name}: {taken['ref']} not shown after 15 s; clicking its row",
                file=sys.stderr,
            )
            await click(op, page, f".queue-row[data-id='{taken['id']}']")
        marks.append(time.monotonic())
        # Evidence first: wait for the server's judgement on the screen; never close blind.
        with contextlib.suppress(PlaywrightTimeout):
            await page.wait_for_function(
                "() => document.querySelector('#incident-voice')?.dataset.voice",
                timeout=90_000,
                polling=POLL_MS,
            )
        marks.append(time.monotonic())
        panel = await page.evaluate(READ_PANEL)
        await asyncio.sleep(think)
        marks.append(time.monotonic())
        if panel and panel["voice"] == "voice":
            op.actions -= 1  # the w that took it was for the genuine call
            op.genuine_actions += 1
            await escalate_in_panel(op, page, scenario, think)
            continue
        if not panel or not panel["voice"]:
            op.unjudged += 1  # not judged after 90 s: closed all the same, and counted
        await act(op, page, "f")
        if panel and panel["voice"] == "noisy":
            await act(op, page, "Tab")
            await act(op, page, "Enter")
        if await gone(page, f".queue-row[data-id='{taken['id']}']"):
            marks.append(time.monotonic())
            cycle = {name: marks[n + 1] - marks[n] for n, name in enumerate(TAKE_CYCLE)}
            cycle["at"] = began - scenario.start
            op.cycles.append(cycle)
            await closed(op, scenario)
            continue
        # Refused: the evidence changed as the key went (a voice heard): look again.
        panel = await page.evaluate(READ_PANEL)
        if panel and panel["id"] == taken["id"] and panel["voice"] == "voice":
            await escalate_in_panel(op, page, scenario, think)


def take_cycles(operators: list[Operator]) -> dict[str, list[float]]:
    """Per part of the take flow's cycle (TAKE_CYCLE) and in all: [median over the cycles
    begun in the storm's first 30 s, median over the later ones] (s)."""
    cycles = [c for op in operators for c in op.cycles]
    result: dict[str, list[float]] = {}
    for name in [*TAKE_CYCLE, "in all"]:
        early = [c.get(name, sum(c[n] for n in TAKE_CYCLE)) for c in cycles if c["at"] < 30]
        late = [c.get(name, sum(c[n] for n in TAKE_CYCLE)) for c in cycles if c["at"] >= 30]
        if early:
            result[name] = [
                round(statistics.median(early), 2) if early else -1.0,
                round(statistics.median(late), 2) if late else -1.0,
            ]
    return result


async def run_round(args: argparse.Namespace, operators: int, number: int, workdir: Path) -> Round:
    rng = random.Random(number)
    receiver = PoliceReceiver()
    url = f"sqlite:///{workdir / f'storm-{operators}-{number}.sqlite'}"
    credentials = provision(url, args.units, receiver.url, operators)
    unit_ids = [unit_id for unit_id, _ in credentials]
    order = rng.sample(unit_ids, args.presses)
    genuine_position = rng.randrange(args.presses)
    genuine = order[genuine_position]
    port = free_port()
    os.environ.update(
        {
            "HELPPOINT_MAP_TILES_URL": NO_TILES,
            "HELPPOINT_PRESS_LISTEN_MAX": str(args.press_listen_max),
            "HELPPOINT_DATA_DIR": str(workdir / f"data-{operators}-{number}"),
        }
    )
    log_path = workdir / f"server-{operators}-{number}.log"
    python_args: list[str] = []
    if args.profile_server is not None:
        args.profile_server.mkdir(parents=True, exist_ok=True)
        profile = args.profile_server / f"server-{operators}-{number}.prof"
        python_args = ["-m", "cProfile", "-o", str(profile)]
    server = ServerProcess(url, port, log_path, log_level="info", python_args=python_args)
    server.start()
    base = f"http://127.0.0.1:{port}"
    fleet: FleetThread | FleetProcess = (
        FleetProcess(base, credentials, genuine)
        if args.fleet_process
        else FleetThread(base, credentials, genuine)
    )
    assert server.process is not None
    server_pid = server.process.pid
    scenario = Scenario(args.presses, genuine)
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            pages = [await open_console(browser, base, f"op{n + 1}") for n in range(operators)]
            people = [Operator(f"op{n + 1}") for n in range(operators)]
            errors: list[str] = []
            for page, person in zip(pages, people, strict=True):
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.on(
                    "response",
                    lambda r, person=person: (
                        setattr(person, "refusals", person.refusals + 1)
                        if r.status == 409
                        else None
                    ),
                )
            storm_flow = operators == 1 or args.flow == "storm"

            cpu: dict[str, float] = {}

            busy: dict[str, float] = {}
            # The longest is counted afresh from the first reading (the storm's start).
            read_busy = (
                "() => { const read = { ...window.__longTasks };"
                " window.__longTasks.longest = 0; return read; }"
            )

            async def measure_cpu() -> None:
                before = cpu_parts(server_pid, fleet.pid)
                busy_before = [await p.evaluate(read_busy) for p in pages]
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.sleep(30)
                cpu.update(cpu_used(before, cpu_parts(server_pid, fleet.pid)))
                busy_after = [await p.evaluate(read_busy) for p in pages]
                busy["long tasks"] = sum(
                    a["count"] - b["count"] for a, b in zip(busy_after, busy_before, strict=True)
                )
                busy["long tasks, ms"] = round(
                    sum(a["ms"] - b["ms"] for a, b in zip(busy_after, busy_before, strict=True))
                )
                busy["longest, ms"] = round(max(a["longest"] for a in busy_after))

            wall_offset = time.time() - time.monotonic()

            async def storm() -> None:
                scenario.start = time.monotonic()
                gap = args.storm_seconds / max(1, args.presses - 1)
                for n, unit in enumerate(order):
                    due = scenario.start + n * gap
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                    scenario.press_times[unit] = time.monotonic()
                    await asyncio.to_thread(fleet.press, unit)
                    scenario.pressed += 1

            seen: dict[str, float] = {}

            async def watch_judgements(page: Page) -> None:
                # Measurement only, not the operator: when the evidence reached the screen.
                while not scenario.finished():
                    judged = await page.evaluate(
                        "() => [...document.querySelectorAll('.queue-row')]"
                        ".map((r) => [r.dataset.unit, r.dataset.voice])"
                    )
                    now = time.monotonic()
                    for unit, voice in judged:
                        if voice and unit not in seen:
                            seen[unit] = now
                    await asyncio.sleep(0.25)

            watcher = asyncio.create_task(watch_judgements(pages[0]))
            workers = [
                asyncio.create_task(
                    storm_operator(person, page, scenario, args.think, lane, operators)
                    if storm_flow
                    else take_next_operator(person, page, scenario, args.think)
                )
                for lane, (page, person) in enumerate(zip(pages, people, strict=True))
            ]
            cpu_task = asyncio.create_task(measure_cpu())
            await storm()
            await asyncio.wait_for(asyncio.gather(*workers), timeout=args.timeout)
            watcher.cancel()
            if not cpu_task.done():
                cpu_task.cancel()
            await cpu_task
            judged_times = sorted(seen.values())
            ninety = (
                judged_times[int(0.9 * args.presses) - 1]
                if len(judged_times) >= int(0.9 * args.presses)
                else None
            )
            clear_seconds = max(scenario.last_close, scenario.escalated_at or 0) - scenario.start
            receiver.arrived.wait(30)
            police = receiver.arrivals[0][0] if receiver.arrivals else None
            pressed = scenario.press_times[genuine]
            peak_toasts = max([await p.evaluate("() => window.__peakToasts") for p in pages])
            overlaps = sum([int(await p.evaluate(OVERLAPS)) for p in pages])
            await browser.close()
            for error in errors:
                print(f"  JavaScript error in a console: {error}", file=sys.stderr)
        within_30, within_60, accept_times = accepted_shares(url)
        per_false = [n for person in people for n in person.per_false]
        seconds = [s for person in people for s in person.seconds]
        return Round(
            operators=operators,
            genuine_unit=genuine,
            genuine_position=genuine_position + 1,
            actions_median=statistics.median(per_false),
            actions_worst=max(per_false),
            actions_histogram=dict(sorted(Counter(per_false).items())),
            seconds_median=round(statistics.median(seconds), 2),
            seconds_worst=round(max(seconds), 2),
            clear_seconds=round(clear_seconds, 1),
            accepted_30s=within_30,
            accepted_60s=within_60,
            press_to_police=round(police - pressed, 1) if police else None,
            escalated_after_press=(
                round(scenario.escalated_at - pressed, 1) if scenario.escalated_at else None
            ),
            voice_shown_after_press=(
                round(seen[genuine] - pressed, 1) if genuine in seen else None
            ),
            judged_90_after_start=round(ninety - scenario.start, 1) if ninety else None,
            peak_toasts=peak_toasts,
            overlapping_patterns=overlaps,
            refusals=sum(p.refusals for p in people),
            view_switches=sum(p.view_switches for p in people),
            genuine_actions=sum(p.genuine_actions for p in people),
            closed_unjudged=sum(p.unjudged for p in people),
            closed_false=scenario.closed_false,
            lingered=sum(p.lingered for p in people),
            load_average=round(os.getloadavg()[0], 1),
            phases=listen_phases(log_path, scenario.press_times, seen),
            cpu=cpu,
            missed=missed_breakdown(accept_times, scenario.press_times, seen, wall_offset),
            console_busy=busy,
            take_cycle=take_cycles(people),
        )
    finally:
        fleet.stop()
        server.stop()
        receiver.stop()


def accepted_shares(url: str) -> tuple[float, float, dict[str, tuple[float, float | None]]]:
    """The share of the storm's alarms acknowledged within 30 s and 60 s of being received,
    and per unit when its alarm was received and accepted (Unix time; None: never)."""
    engine = make_engine(url)
    uow = UnitOfWork(make_session_factory(engine))
    with uow:
        rows, _ = uow.incidents.search(_all())
        waits = [
            (i.acknowledged_at - i.opened_at).total_seconds() if i.acknowledged_at else None
            for i in rows
        ]
        times = {
            i.unit_id: (
                i.opened_at.timestamp(),
                i.acknowledged_at.timestamp() if i.acknowledged_at else None,
            )
            for i in rows
        }
    engine.dispose()
    within = [w for w in waits if w is not None]
    return (
        round(sum(w <= 30 for w in within) / len(waits), 3),
        round(sum(w <= 60 for w in within) / len(waits), 3),
        times,
    )


def missed_breakdown(
    times: dict[str, tuple[float, float | None]],
    press_times: dict[str, float],
    shown: dict[str, float],
    wall_minus_monotonic: float,
) -> dict[str, float]:
    """Where the time went for the alarms accepted later than 30 s after being received:
    how many; median seconds from the press until the judgement was on the screen, and from
    then until an operator accepted the alarm (operators busy with others); how many were
    accepted before their judgement was shown (taken, then waited for the evidence)."""
    late: list[tuple[float, float, float]] = []  # press, shown, accepted (monotonic)
    for unit, (opened, accepted) in times.items():
        if unit not in press_times or accepted is None or accepted - opened <= 30:
            continue
        at = accepted - wall_minus_monotonic
        late.append((press_times[unit], shown.get(unit, at), at))
    if not late:
        return {"count": 0}
    return {
        "count": len(late),
        "press -> judgement shown": round(statistics.median(s - p for p, s, _ in late), 1),
        "judgement shown -> accepted": round(statistics.median(a - s for _, s, a in late), 1),
        "accepted before its judgement was shown": sum(a < s for _, s, a in late),
    }


def _all() -> Any:
    from helppoint.store.repositories import IncidentFilter

    return IncidentFilter(limit=100_000)


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):g} ({min(values):g}-{max(values):g})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--units", type=int, default=50)
    parser.add_argument("--presses", type=int, default=50)
    parser.add_argument("--storm-seconds", type=float, default=3.0)
    parser.add_argument("--operators", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--think", type=float, default=0.4, help="seconds per decision")
    parser.add_argument(
        "--press-listen-max",
        type=int,
        default=64,
        help="the server's press_listen_max (its default, 32, leaves alarms beyond it unjudged)",
    )
    parser.add_argument(
        "--flow",
        choices=["take", "storm"],
        default="take",
        help="how several operators work: take (w, then f or escalate) or storm (each in the "
        "storm view, working from their own part of the grid); one operator always uses storm",
    )
    parser.add_argument(
        "--fleet-process",
        action="store_true",
        help="run the simulated units in a process of their own, not a thread of this one",
    )
    parser.add_argument(
        "--profile-server",
        type=Path,
        metavar="DIR",
        help="run each round's server under cProfile, its statistics left in DIR",
    )
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.presses > args.units:
        parser.error("each press is a different unit: --presses at most --units")
    results: list[Round] = []
    with tempfile.TemporaryDirectory(prefix="operator-storm-") as tmp:
        for operators in args.operators:
            for number in range(1, args.rounds + 1):
                result = asyncio.run(run_round(args, operators, number, Path(tmp)))
                results.append(result)
                print(json.dumps(asdict(result)), flush=True)
    print()
    print(
        f"operator storm, {datetime.now().isoformat(timespec='seconds')}: {args.presses} presses"
        f" in {args.storm_seconds} s from {args.units} units, think {args.think} s, "
        f"{args.rounds} round(s), several operators' flow: {args.flow}; median (min-max)"
    )
    for operators in args.operators:
        rows = [r for r in results if r.operators == operators]
        police = [r.press_to_police for r in rows if r.press_to_police is not None]
        print(f"\n{operators} operator(s):")
        figures = [
            ("actions per false activation, median", [r.actions_median for r in rows]),
            ("actions per false activation, worst", [r.actions_worst for r in rows]),
            ("seconds per false activation, median", [r.seconds_median for r in rows]),
            ("seconds per false activation, worst", [r.seconds_worst for r in rows]),
            ("time to clear the storm (s)", [r.clear_seconds for r in rows]),
            ("accepted within 30 s", [r.accepted_30s for r in rows]),
            ("accepted within 60 s", [r.accepted_60s for r in rows]),
            ("genuine: press -> police notified (s)", police),
            (
                "genuine: press -> voice heard shown (s)",
                [r.voice_shown_after_press for r in rows if r.voice_shown_after_press is not None],
            ),
            (
                "storm: 90 % of alarms judged after (s)",
                [r.judged_90_after_start for r in rows if r.judged_90_after_start is not None],
            ),
            ("peak toasts on screen", [r.peak_toasts for r in rows]),
            ("overlapping alarm patterns", [r.overlapping_patterns for r in rows]),
            ("refusals (a colleague was faster)", [r.refusals for r in rows]),
            ("storm view switches (once per storm)", [r.view_switches for r in rows]),
            ("actions for the genuine call", [r.genuine_actions for r in rows]),
            ("closed without a judgement (after 90 s)", [r.closed_unjudged for r in rows]),
            ("closed, yet the tile stayed over 60 s", [r.lingered for r in rows]),
            ("load average (1 min) at the end", [r.load_average for r in rows]),
        ]
        for label, values in figures:
            print(f"  {label:<40} {spread(values) if values else 'never'}")
        print("  where the time from press to judgement goes, per alarm (s): median (min-max) of")
        print("  the rounds' medians / of their 90th percentiles")
        names = [name for name, _ in PHASES] + ["press -> stored", "press -> shown"]
        for name in names:
            medians = [r.phases[name][0] for r in rows if name in r.phases]
            tails = [r.phases[name][1] for r in rows if name in r.phases]
            if medians:
                print(f"    {name:<38} {spread(medians)} / {spread(tails)}")
        print("  alarms accepted after 30 s: median (min-max) over the rounds")
        for name in [
            "count",
            "press -> judgement shown",
            "judgement shown -> accepted",
            "accepted before its judgement was shown",
        ]:
            values = [r.missed[name] for r in rows if name in r.missed]
            if values:
                print(f"    {name:<38} {spread(values)}")
        if any(r.take_cycle for r in rows):
            print("  take flow, an operator's cycle per alarm (s): median (min-max) of the rounds'")
            print("  medians, cycles begun in the first 30 s / later")
            for name in [*TAKE_CYCLE, "in all"]:
                early = [r.take_cycle[name][0] for r in rows if name in r.take_cycle]
                late = [
                    r.take_cycle[name][1]
                    for r in rows
                    if name in r.take_cycle and r.take_cycle[name][1] >= 0
                ]
                if early:
                    print(f"    {name:<38} {spread(early)} / {spread(late) if late else 'none'}")
        print("  the consoles' main threads in the storm's first 30 s (all consoles):")
        for name in ["long tasks", "long tasks, ms", "longest, ms"]:
            values = [r.console_busy[name] for r in rows if name in r.console_busy]
            if values:
                print(f"    {name:<38} {spread(values)}")
        print("  CPU seconds in the storm's first 30 s (2 cores: 60 at most), by part:")
        for name in rows[0].cpu if rows and rows[0].cpu else []:
            used = [r.cpu[name] for r in rows if name in r.cpu]
            print(f"    {name:<38} {spread(used)}")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))


if __name__ == "__main__":
    main()
