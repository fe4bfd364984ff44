"""An external PTZ camera moved to named presets over ONVIF (the onvif-zeep-async client).

The unit's settings map preset names ("zoom", "home", …) to the camera's preset tokens. The
client runs on its own event loop in a background thread, so a press (from a GPIO thread)
starts the move without waiting, and a command from the control room (on the link's loop)
awaits the camera's answer without blocking the link. A camera that does not answer is
reported, never retried for ever: the next request connects afresh.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from typing import Any

log = logging.getLogger(__name__)


class CameraError(Exception):
    """The camera could not be moved (unreachable, refused, or no such preset)."""


class UnknownPreset(CameraError):
    """A preset name that is not configured for this unit."""


class OnvifPtzCamera:
    """A PTZ camera behind ONVIF: ``goto_preset(name)`` sends GotoPreset with its token."""

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        password: str,
        presets: dict[str, str],
        *,
        profile: str = "",
        timeout: float = 10.0,
    ) -> None:
        if not presets:
            raise ValueError("an ONVIF camera needs at least one preset (name=token)")
        self.host = host
        self.port = port
        self.user = user
        self._password = password
        self.presets = dict(presets)
        self.profile = profile
        self.timeout = timeout
        #: Preset names the camera confirmed reaching, in order.
        self.reached: list[str] = []
        self.failures = 0
        self._camera: Any = None
        self._ptz: Any = None
        self._profile_token: str | None = None
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def preset(self) -> str | None:
        """The last preset the camera confirmed."""
        return self.reached[-1] if self.reached else None

    def capabilities(self) -> list[str]:
        """What the unit announces: ``ptz`` and one ``preset:NAME`` per configured preset."""
        return ["ptz", *(f"preset:{name}" for name in self.presets)]

    def submit(self, preset: str) -> concurrent.futures.Future[str]:
        """Start moving to ``preset`` on the camera's loop; the future gives the preset name."""
        token = self.presets.get(preset)
        if token is None:
            raise UnknownPreset(
                f"unknown camera preset {preset!r}; configured: {', '.join(self.presets)}"
            )
        return asyncio.run_coroutine_threadsafe(self._goto(preset, token), self._running_loop())

    def goto_preset(self, preset: str) -> None:
        """Start the move and return at once (the press path); failures are logged."""
        future = self.submit(preset)
        future.add_done_callback(self._log_failure)

    async def goto_preset_async(self, preset: str) -> str:
        """Move and wait for the camera's answer; CameraError if it did not move."""
        return await asyncio.wrap_future(self.submit(preset))

    def close(self) -> None:
        """Close the ONVIF session and stop the camera's loop."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        if loop.is_running():
            done = asyncio.run_coroutine_threadsafe(self._disconnect(), loop)
            with contextlib.suppress(concurrent.futures.TimeoutError, CameraError):
                done.result(self.timeout)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(self.timeout)
        loop.close()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name=f"onvif-{self.host}", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def _log_failure(self, future: concurrent.futures.Future[str]) -> None:
        error = future.exception()
        if error is not None:
            log.error("camera %s:%d: %s", self.host, self.port, error)

    async def _goto(self, preset: str, token: str) -> str:
        try:
            async with asyncio.timeout(self.timeout):
                ptz, profile = await self._connect()
                await ptz.GotoPreset({"ProfileToken": profile, "PresetToken": token})
        except CameraError:
            self.failures += 1
            await self._disconnect()
            raise
        except Exception as exc:  # zeep faults, aiohttp and timeouts: all mean "did not move"
            self.failures += 1
            await self._disconnect()
            detail = "no answer in time" if isinstance(exc, TimeoutError) else str(exc)
            raise CameraError(
                f"camera {self.host}:{self.port} did not go to preset {preset}: {detail}"
            ) from exc
        self.reached.append(preset)
        log.info("camera %s:%d at preset %s (token %s)", self.host, self.port, preset, token)
        return preset

    async def _connect(self) -> tuple[Any, str]:
        if self._ptz is not None and self._profile_token is not None:
            return self._ptz, self._profile_token
        # Imported here: the client library is only needed on units with an ONVIF camera.
        from onvif import ONVIFCamera

        camera = ONVIFCamera(self.host, self.port, self.user, self._password)
        self._camera = camera
        await camera.update_xaddrs()
        media = await camera.create_media_service()
        profiles = await media.GetProfiles()
        tokens = [str(p.token) for p in profiles or []]
        if not tokens:
            raise CameraError(f"camera {self.host}:{self.port} has no media profile")
        if self.profile and self.profile not in tokens:
            raise CameraError(
                f"camera {self.host}:{self.port} has no profile {self.profile!r} "
                f"(it has {', '.join(tokens)})"
            )
        self._profile_token = self.profile or tokens[0]
        self._ptz = await camera.create_ptz_service()
        return self._ptz, self._profile_token

    async def _disconnect(self) -> None:
        camera, self._camera, self._ptz, self._profile_token = self._camera, None, None, None
        if camera is not None:
            try:
                await camera.close()
            except Exception:  # closing a broken session must not hide the real error
                log.debug("closing the ONVIF session failed", exc_info=True)
