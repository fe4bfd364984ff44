"""A council PTZ camera's ONVIF service for the tests: the project's ONVIF double
(tests/media/onvif_double.py) plus the password check (WS-Security digest), ContinuousMove and
Stop. It records every GotoPreset and move it receives. A test double for hardware; it runs on
its own event loop in a thread, so browser tests (synchronous Playwright) can use it too."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from lxml import etree

from tests.media.onvif_double import SOAP, WSSE, OnvifCameraDouble

WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"


@dataclass
class Move:
    pan: float
    tilt: float
    zoom: float


@dataclass
class OnvifPtzDouble(OnvifCameraDouble):
    """The camera, with its account's password checked (digest, as cameras do)."""

    password: str = "secret"
    moves: list[Move] = field(default_factory=list)
    stops: int = 0

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        envelope = etree.fromstring(body)
        soap_body = envelope.find(f"{{{SOAP}}}Body")
        operation = (
            etree.QName(soap_body[0]).localname if soap_body is not None and len(soap_body) else ""
        )
        if operation != "GetSystemDateAndTime" and not self._digest_ok(envelope):
            self.calls.append(operation)
            return self._fault("env:Sender", "Sender not authorized", status=400)
        return await super()._handle(_Replay(body))  # type: ignore[arg-type]

    def _digest_ok(self, envelope: etree._Element) -> bool:
        token = envelope.find(f".//{{{WSSE}}}UsernameToken")
        if token is None:
            return False
        nonce = base64.b64decode(token.findtext(f"{{{WSSE}}}Nonce") or "")
        created = token.findtext(f"{{{WSU}}}Created") or ""
        given = token.findtext(f"{{{WSSE}}}Password") or ""
        expected = base64.b64encode(
            hashlib.sha1(nonce + created.encode() + self.password.encode()).digest()
        ).decode()
        return token.findtext(f"{{{WSSE}}}Username") == self.user and given == expected

    def _ContinuousMove(self, operation: etree._Element) -> str:
        speeds = {"pan": 0.0, "tilt": 0.0, "zoom": 0.0}
        for element in operation.iter():
            name = etree.QName(element).localname
            if name == "PanTilt":
                speeds["pan"] = float(element.get("x") or 0)
                speeds["tilt"] = float(element.get("y") or 0)
            elif name == "Zoom":
                speeds["zoom"] = float(element.get("x") or 0)
        self.moves.append(Move(**speeds))
        self._changed.set()
        return "<tptz:ContinuousMoveResponse/>"

    def _Stop(self, operation: etree._Element) -> str:
        self.stops += 1
        self._changed.set()
        return "<tptz:StopResponse/>"

    async def until(self, check: Any, within: float = 20.0) -> None:
        """Wait until ``check()`` holds (each request wakes the waiter)."""
        async with asyncio.timeout(within):
            while not check():
                self._changed.clear()
                await self._changed.wait()


class _Replay:
    """A request whose body was already read (aiohttp's can be read once)."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    async def read(self) -> bytes:
        return self._body


class ThreadedOnvif:
    """An OnvifPtzDouble on its own event loop in a thread."""

    def __init__(self, **options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.double = OnvifPtzDouble(**options)
        self.run(self.double.start())

    def run(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def until(self, check: Any, within: float = 20.0) -> None:
        async def wait() -> None:
            await self.double.until(check, within)

        self.run(wait(), within + 5)

    def stop(self) -> None:
        self.run(self.double.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
