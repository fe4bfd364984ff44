"""Moving council cameras over ONVIF: to a unit's preset on an activation, or by the operator.

The server's side of ONVIF PTZ (the unit's own camera is moved by its agent,
helppoint/agent/camera_onvif.py, with the same onvif-zeep-async client). One session per
camera, opened on first use and dropped after a failure, so the next request connects afresh;
requests to one camera are made one at a time. Every failure is a :class:`PtzError` whose
message an operator can act on (never the account).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from helppoint.domain.cameras import CameraAccess

log = logging.getLogger(__name__)

#: Extra seconds for opening a session (the client parses its WSDL files first).
CONNECT_ALLOWANCE = 10.0
#: Longest a continuous move may run without the operator's "stop" (seconds): a lost stop
#: (the browser closed mid-move) must not leave a camera turning.
MAX_MOVE = 5.0


class PtzError(Exception):
    """The camera did not do what was asked; the message says why."""


class NotPtz(PtzError):
    """The camera has no ONVIF service: it cannot be moved."""


class OnvifPtz:
    """One camera's ONVIF PTZ service."""

    def __init__(self, access: CameraAccess, timeout: float = 5.0) -> None:
        if not access.ptz:
            raise NotPtz(f"camera {access.camera_id} has no ONVIF service: it cannot be moved")
        self.access = access
        self.timeout = timeout
        self._camera: Any = None
        self._ptz: Any = None
        self._profile: str | None = None
        self._lock = asyncio.Lock()
        self._stop_later: asyncio.TimerHandle | None = None

    async def goto_preset(self, token: str) -> None:
        """Turn to the preset with this token and return once the camera accepted it."""
        await self._call(f"go to preset {token}", "GotoPreset", {"PresetToken": token})

    async def move(self, pan: float, tilt: float, zoom: float) -> None:
        """Start moving at these speeds (-1 … 1 each); stopped by stop() or after MAX_MOVE."""
        velocity = {"PanTilt": {"x": pan, "y": tilt}, "Zoom": {"x": zoom}}
        await self._call("move", "ContinuousMove", {"Velocity": velocity})
        if self._stop_later is not None:
            self._stop_later.cancel()
        loop = asyncio.get_running_loop()
        self._stop_later = loop.call_later(MAX_MOVE, self._stop_soon)

    async def stop(self) -> None:
        """Stop moving."""
        if self._stop_later is not None:
            self._stop_later.cancel()
            self._stop_later = None
        await self._call("stop", "Stop", {"PanTilt": True, "Zoom": True})

    async def presets(self) -> list[tuple[str, str]]:
        """The camera's presets as (token, name)."""
        found = await self._call("list its presets", "GetPresets", {})
        return [(str(p.token), str(getattr(p, "Name", "") or "")) for p in found or []]

    async def close(self) -> None:
        if self._stop_later is not None:
            self._stop_later.cancel()
        await self._disconnect()

    def _stop_soon(self) -> None:
        self._stop_later = None
        task = asyncio.ensure_future(self.stop())
        task.add_done_callback(_log_failure)

    async def _call(self, what: str, operation: str, arguments: dict[str, Any]) -> Any:
        name = f"{self.access.camera_id} ({self.access.onvif_host}:{self.access.onvif_port})"
        async with self._lock:
            connected = self._ptz is not None
            try:
                async with asyncio.timeout(self.timeout + (0 if connected else CONNECT_ALLOWANCE)):
                    ptz, profile = await self._connect()
                    return await getattr(ptz, operation)({"ProfileToken": profile, **arguments})
            except PtzError:
                await self._disconnect()
                raise
            except Exception as exc:  # zeep faults, aiohttp errors, timeouts: "did not move"
                await self._disconnect()
                raise PtzError(f"camera {name} did not {what}: {_reason(exc)}") from exc

    async def _connect(self) -> tuple[Any, str]:
        if self._ptz is not None and self._profile is not None:
            return self._ptz, self._profile
        from onvif import ONVIFCamera

        access = self.access
        # The client signs every request; a camera without an account gets an empty one.
        camera = ONVIFCamera(access.onvif_host, access.onvif_port, access.username, access.password)
        self._camera = camera
        await camera.update_xaddrs()
        media = await camera.create_media_service()
        tokens = [str(p.token) for p in await media.GetProfiles() or []]
        if not tokens:
            raise PtzError(f"camera {access.camera_id} has no media profile")
        if access.onvif_profile and access.onvif_profile not in tokens:
            raise PtzError(
                f"camera {access.camera_id} has no profile {access.onvif_profile!r} "
                f"(it has {', '.join(tokens)})"
            )
        self._profile = access.onvif_profile or tokens[0]
        self._ptz = await camera.create_ptz_service()
        return self._ptz, self._profile

    async def _disconnect(self) -> None:
        camera, self._camera, self._ptz, self._profile = self._camera, None, None, None
        if camera is not None:
            try:
                await camera.close()
            except Exception:  # closing a broken session must not hide the real error
                log.debug("closing the ONVIF session failed", exc_info=True)


class PtzControl:
    """The ONVIF sessions of this process, one per camera, on a loop of their own.

    The ONVIF client parses its WSDL files when a session opens (about a second of CPU): on
    its own thread that never holds up the server's event loop, which carries every unit's
    link and every console.
    """

    def __init__(self, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self._cameras: dict[str, OnvifPtz] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()

    async def goto_preset(self, access: CameraAccess, token: str) -> None:
        await self._run(access, lambda ptz: ptz.goto_preset(token))

    async def move(self, access: CameraAccess, pan: float, tilt: float, zoom: float) -> None:
        await self._run(access, lambda ptz: ptz.move(pan, tilt, zoom))

    async def stop(self, access: CameraAccess) -> None:
        await self._run(access, lambda ptz: ptz.stop())

    async def presets(self, access: CameraAccess) -> list[tuple[str, str]]:
        result: list[tuple[str, str]] = await self._run(access, lambda ptz: ptz.presets())
        return result

    async def close(self) -> None:
        with self._guard:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        cameras, self._cameras = self._cameras, {}

        async def close_all() -> None:
            for ptz in cameras.values():
                with contextlib.suppress(Exception):
                    await ptz.close()

        with contextlib.suppress(Exception):
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(close_all(), loop))
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.get_running_loop().run_in_executor(None, thread.join, 5)
        loop.close()

    async def _run(self, access: CameraAccess, action: Callable[[OnvifPtz], Awaitable[Any]]) -> Any:
        if not access.ptz:
            raise NotPtz(f"camera {access.camera_id} has no ONVIF service: it cannot be moved")

        async def on_ptz_loop() -> Any:
            return await action(self._camera(access))

        future = asyncio.run_coroutine_threadsafe(on_ptz_loop(), self._running_loop())
        return await asyncio.wrap_future(future)

    def _camera(self, access: CameraAccess) -> OnvifPtz:
        """The camera's session (a new one if its address or account changed); PTZ loop only."""
        current = self._cameras.get(access.camera_id)
        if current is not None and current.access == access:
            return current
        if current is not None:
            task = asyncio.ensure_future(current.close())
            task.add_done_callback(_log_failure)
        ptz = OnvifPtz(access, self.timeout)
        self._cameras[access.camera_id] = ptz
        return ptz

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._guard:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="onvif-ptz", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if "not authorized" in lowered or "unauthorized" in lowered or "401" in text:
        return "the camera refused the ONVIF user name or password"
    if "cannot connect" in lowered or "connection refused" in lowered:
        return "the camera cannot be reached"
    return text[:300]


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("camera PTZ: %s", task.exception())
