"""What the browser tests drive: signed-in consoles, simulated units, a gated console feed and a
server that can be restarted on the same port."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, WebSocketRoute, expect
from websockets.asyncio.client import ClientConnection, connect

from helppoint.config import Settings
from helppoint.domain.events import EventType
from helppoint.domain.model import Role
from helppoint.services.ingest import ReportedEvent, handle_device_events
from helppoint.services.operators import add_operator
from helppoint.services.seed import seed_demo
from tests.threaded_server import bound_socket, port_of, start_in_thread, stop_thread

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
#: Nothing listens on port 9 here: every tile fails at once, as with no internet, but quicker.
UNREACHABLE_TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"
PASSWORD = "correct horse battery"
VIEWPORT = {"width": 1366, "height": 768}


def record_event(
    server: Any,
    unit_id: str,
    seq: int,
    received_at: datetime,
    event: str = "activation",
    *,
    pushed: bool = False,
) -> None:
    """Commit an event straight through the ingest service, as if received at `received_at`.

    This is how an alarm that reached the database some time ago (or through another server
    process) is set up without waiting for real time to pass. `pushed`: through the server's
    own unit of work, so open consoles hear of it at once, as of a press.
    """
    uow = server.app.state.uow_factory() if pushed else server.database.uow()
    with uow:
        reported = ReportedEvent(unit_id, seq, EventType(event), received_at, {})
        handle_device_events(uow, [reported], received_at, timedelta(minutes=5))
        uow.commit()


def csrf_headers(page: Page) -> dict[str, str]:
    """The CSRF header a state-changing `page.request` call needs, as api.js sends it."""
    token = next((c["value"] for c in page.context.cookies() if c["name"] == "helppoint_csrf"), "")
    return {"X-CSRF-Token": token}


def close_context(context: BrowserContext) -> None:
    """Close a browser context whose pages a test may have routed (`page.route`).

    A route handler can be answering one of the page's requests as the context closes (a
    console polls, and a test's handler fetches and then fulfills); what it then raises
    ("Route.fulfill: Fetch response has been disposed") came out of the *next* test's first
    Playwright call and failed that test (a whole-suite run, December 2026). Unrouting first,
    ignoring the errors of handlers still running, keeps each test's routes its own.
    """
    for page in context.pages:
        page.unroute_all(behavior="ignoreErrors")
    context.unroute_all(behavior="ignoreErrors")
    context.close()


class Consoles:
    """Opens browser contexts signed in as operators; reports page errors at the end."""

    def __init__(self, browser: Browser, server: Any) -> None:
        self.browser = browser
        self.server = server
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []

    def new_page(self) -> Page:
        context = self.browser.new_context(viewport=VIEWPORT)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        return page

    def sign_in(self, page: Page, username: str, password: str = PASSWORD) -> None:
        page.goto(f"{self.server.base_url}/login", wait_until="domcontentloaded")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()

    def open(
        self,
        username: str,
        role: Role = Role.OPERATOR,
        before: Callable[[Page], None] | None = None,
    ) -> Page:
        """A console page signed in as a new operator, with its live feed up."""
        self.server.add_operator(username, PASSWORD, role)
        page = self.new_page()
        if before is not None:
            before(page)
        self.sign_in(page, username)
        page.wait_for_url(f"{self.server.base_url}/")
        expect(page.locator("#link-status")).to_have_text("Live")
        return page

    def close(self) -> None:
        for context in self.contexts:
            close_context(context)


class SimulatedUnit:
    """A help point on the real device link (docs/device-protocol.md), in its own thread.

    It presses its button on request, waits for the server's ack, and carries out commands,
    answering each with a command_result, as the agent on a real unit does.
    """

    def __init__(self, server: Any, unit_id: str) -> None:
        self.server = server
        self.unit_id = unit_id
        self.seq = 0
        self.commands: list[dict[str, Any]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._ws: ClientConnection | None = None
        self._acks: asyncio.Queue[dict[str, Any]] | None = None
        self._reader: asyncio.Task[None] | None = None

    def _run(self, coro: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def connect(self) -> SimulatedUnit:
        self._run(self._connect())
        return self

    async def _connect(self) -> None:
        self._ws = await connect(self.server.device_url)
        await self._ws.send(
            json.dumps(
                {
                    "type": "hello",
                    "protocol": 1,
                    "unit": self.unit_id,
                    "key": self.server.key(self.unit_id),
                    "firmware": "e2e-sim 1.0",
                    "capabilities": ["button", "light", "camera", "speaker", "microphone"],
                }
            )
        )
        welcome = json.loads(await self._ws.recv())
        assert welcome["type"] == "welcome", welcome
        self.seq = welcome["last_seq"]
        self._acks = asyncio.Queue()
        self._reader = asyncio.create_task(self._read(self._ws, self._acks))

    async def _read(self, ws: ClientConnection, acks: asyncio.Queue[dict[str, Any]]) -> None:
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "command":
                self.commands.append(frame)
                detail = f"{frame['command']} done"
                await ws.send(
                    json.dumps(
                        {"type": "command_result", "id": frame["id"], "ok": True, "detail": detail}
                    )
                )
            elif frame["type"] in ("ack", "error", "heartbeat_ack"):
                await acks.put(frame)

    def heartbeat(self) -> None:
        """Send a heartbeat, as a unit does every heartbeat period, and wait for its ack."""
        self._run(self._heartbeat())

    async def _heartbeat(self) -> None:
        assert self._ws is not None and self._acks is not None
        frame = {"type": "heartbeat", "time": datetime.now(UTC).isoformat(), "status": {}}
        await self._ws.send(json.dumps(frame))
        ack = await asyncio.wait_for(self._acks.get(), 10)
        assert ack["type"] == "heartbeat_ack", ack

    def press(self, event: str = "activation") -> None:
        """Report one event and wait until the server has stored it."""
        self.seq += 1
        self._run(self._report(self.seq, event))

    async def _report(self, seq: int, event: str) -> None:
        assert self._ws is not None and self._acks is not None
        frame = {
            "type": "event",
            "seq": seq,
            "event": event,
            "time": datetime.now(UTC).isoformat(),
            "payload": {"hold_ms": 150},
        }
        await self._ws.send(json.dumps(frame))
        ack = await asyncio.wait_for(self._acks.get(), 10)
        assert ack == {"type": "ack", "seq": seq, "status": "stored"}, ack

    def disconnect(self) -> None:
        if self._ws is not None:
            self._run(self._ws.close())
            self._ws = None

    def stop(self) -> None:
        try:
            self.disconnect()
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)


class FeedGate:
    """Sits between a page and /console/ws: can hold back what the server pushes.

    Holding the feed recreates, on demand, the moment when two consoles have both shown an
    alarm and neither has yet heard that the other operator answered it.
    """

    def __init__(self, page: Page) -> None:
        self.holding = False
        self.held: list[str | bytes] = []
        self.route: WebSocketRoute | None = None
        #: Connections the page opened through the gate.
        self.connections = 0
        # live.js asks for batch frames (/console/ws?batch=1): a batch is held as one message.
        page.route_web_socket(re.compile(r"/console/ws(\?.*)?$"), self._route)

    def _route(self, ws: WebSocketRoute) -> None:
        self.route = ws
        self.connections += 1
        server = ws.connect_to_server()
        server.on_message(self._from_server)
        ws.on_message(server.send)

    def _from_server(self, message: str | bytes) -> None:
        if self.holding:
            self.held.append(message)
        elif self.route is not None:
            self.route.send(message)

    def hold(self) -> None:
        self.holding = True

    def drop_held(self) -> None:
        """Stop holding, and forget what was held (its connection is gone)."""
        self.holding = False
        self.held = []

    def release(self) -> None:
        self.holding = False
        held, self.held = self.held, []
        for message in held:
            assert self.route is not None
            self.route.send(message)


class RestartableServer:
    """A server that can be stopped and started again on the same port and database.

    Offers what SimulatedUnit and Consoles need (base_url, device_url, key, add_operator).
    """

    def __init__(self, database: Any, settings_overrides: dict[str, Any]) -> None:
        self.database = database
        # Held from now until the first start (tests/threaded_server.py says why).
        self._socket: socket.socket | None = bound_socket()
        self.port = port_of(self._socket)
        self.overrides = settings_overrides
        self.units = seed_demo(database.uow())
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def device_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/device/v1"

    def key(self, unit_id: str) -> str:
        return next(u.key for u in self.units if u.unit_id == unit_id)

    def add_operator(self, username: str, password: str, role: Role = Role.OPERATOR) -> None:
        add_operator(self.database.uow(), username, password, role)

    def start(self) -> None:
        from helppoint.web.app import create_app

        # Started again: the same port, bound again at once (the stopped server let it go).
        sock = self._socket or bound_socket(self.port)
        self._socket = None
        try:
            settings = Settings().with_values(
                {"database_url": self.database.url, "port": self.port, **self.overrides}
            )
            app = create_app(settings, self.database.engine)
            config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
            self._server = uvicorn.Server(config)
        except BaseException:
            sock.close()
            raise
        self._thread = start_in_thread(self._server, sock)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            stop_thread(self._server, self._thread)
            self._server = None
        if self._socket is not None:  # never started
            self._socket.close()
            self._socket = None


#: Counts every tone the page plays: each oscillator's start and stop in its AudioContext's
#: time and its frequency, in window.__tones, and that context in window.__audio (add with
#: page.add_init_script before loading).
AUDIO_PROBE = """
(() => {
  const tones = [];
  window.__tones = tones;
  const proto = AudioScheduledSourceNode.prototype;
  const start = proto.start;
  const stop = proto.stop;
  proto.start = function (when = 0, ...rest) {
    window.__audio = this.context;
    const frequency = this.frequency ? this.frequency.value : null;
    this.__tone = { start: Math.max(when, this.context.currentTime), stop: Infinity, frequency };
    tones.push(this.__tone);
    return start.call(this, when, ...rest);
  };
  proto.stop = function (when = 0) {
    if (this.__tone) {
      this.__tone.stop = Math.min(this.__tone.stop, Math.max(when, this.context.currentTime));
    }
    return stop.call(this, when);
  };
})();
"""

#: How many tones started while another was still sounding (from AUDIO_PROBE's record). A note
#: stopped before its start time never sounded (an alarm silenced mid-pattern): not counted.
OVERLAPS = """
() => {
  const sounded = window.__tones.filter((t) => t.stop > t.start);
  const tones = sounded.sort((a, b) => a.start - b.start);
  let overlaps = 0;
  let until = -Infinity;
  for (const t of tones) {
    if (t.start < until - 1e-6) overlaps += 1;
    until = Math.max(until, t.stop);
  }
  return overlaps;
}
"""


def tone_overlaps(page: Page) -> int:
    """Tones that started before the one sounding had stopped (0: one sound at a time)."""
    return int(page.evaluate(OVERLAPS))


#: Counts the live feed's messages by type in window.__feed (add before loading the page).
FEED_PROBE = """
(() => {
  const counts = {};
  window.__feed = counts;
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        try {
          const frame = JSON.parse(event.data);
          // A batch frame (?batch=1, web/feeds.py) carries several messages: count each.
          for (const { type } of frame.type === "batch" ? frame.messages : [frame]) {
            counts[type] = (counts[type] || 0) + 1;
          }
        } catch {
          // not JSON: the page reports it itself
        }
      });
    }
  };
})();
"""
