"""An ONVIF camera test double: a small SOAP 1.2 service (aiohttp) on a free port.

It answers what an ONVIF client needs to move a PTZ camera to a preset — GetServices,
GetCapabilities, GetSystemDateAndTime, GetProfiles, GetPresets and GotoPreset — checks the
WS-Security UsernameToken's user name, and records every GotoPreset it receives.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web
from lxml import etree

SOAP = "http://www.w3.org/2003/05/soap-envelope"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TRT = "http://www.onvif.org/ver10/media/wsdl"
TPTZ = "http://www.onvif.org/ver20/ptz/wsdl"
TT = "http://www.onvif.org/ver10/schema"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"


@dataclass
class GotoPreset:
    profile: str
    preset: str


@dataclass
class OnvifCameraDouble:
    """The camera: its profiles and presets, and the GotoPreset requests it received."""

    user: str = "onvif-admin"
    profiles: tuple[str, ...] = ("profile_main", "profile_sub")
    presets: dict[str, str] = field(default_factory=lambda: {"1": "Zoom on user", "2": "Home"})
    received: list[GotoPreset] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> OnvifCameraDouble:
        app = web.Application()
        app.router.add_post("/onvif/{service}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def until_presets(self, count: int, within: float = 10.0) -> list[GotoPreset]:
        """Wait until ``count`` GotoPreset requests have arrived."""
        async with asyncio.timeout(within):
            while len(self.received) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.received

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.Response:
        envelope = etree.fromstring(await request.read())
        body = envelope.find(f"{{{SOAP}}}Body")
        if body is None or not len(body):
            return self._fault("env:Sender", "no SOAP body")
        operation = body[0]
        name = etree.QName(operation).localname
        self.calls.append(name)
        if name != "GetSystemDateAndTime":
            user = envelope.findtext(f".//{{{WSSE}}}Username")
            if user != self.user:
                return self._fault("env:Sender", "Sender not authorized", status=400)
        answer = getattr(self, f"_{name}", None)
        if answer is None:
            return self._fault("env:Receiver", f"{name} is not supported by this double")
        return self._reply(answer(operation))

    def _reply(self, xml: str) -> web.Response:
        text = (
            f'<?xml version="1.0" encoding="UTF-8"?>'
            f'<env:Envelope xmlns:env="{SOAP}" xmlns:tds="{TDS}" xmlns:trt="{TRT}" '
            f'xmlns:tptz="{TPTZ}" xmlns:tt="{TT}"><env:Body>{xml}</env:Body></env:Envelope>'
        )
        return web.Response(text=text, content_type="application/soap+xml", charset="utf-8")

    def _fault(self, code: str, reason: str, status: int = 500) -> web.Response:
        xml = (
            f"<env:Fault><env:Code><env:Value>{code}</env:Value></env:Code>"
            f'<env:Reason><env:Text xml:lang="en">{reason}</env:Text></env:Reason></env:Fault>'
        )
        response = self._reply(xml)
        response.set_status(status)
        return response

    def _service(self, namespace: str, path: str) -> str:
        return (
            f"<tds:Service><tds:Namespace>{namespace}</tds:Namespace>"
            f"<tds:XAddr>{self.url}/onvif/{path}</tds:XAddr>"
            f"<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version>"
            f"</tds:Service>"
        )

    def _GetServices(self, _: etree._Element) -> str:
        return (
            "<tds:GetServicesResponse>"
            + self._service(TDS, "device_service")
            + self._service(TRT, "media_service")
            + self._service(TPTZ, "ptz_service")
            + "</tds:GetServicesResponse>"
        )

    def _GetCapabilities(self, _: etree._Element) -> str:
        return (
            "<tds:GetCapabilitiesResponse><tds:Capabilities>"
            f"<tt:Device><tt:XAddr>{self.url}/onvif/device_service</tt:XAddr></tt:Device>"
            f"<tt:Media><tt:XAddr>{self.url}/onvif/media_service</tt:XAddr>"
            "<tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast>"
            "<tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP>"
            "</tt:StreamingCapabilities></tt:Media>"
            f"<tt:PTZ><tt:XAddr>{self.url}/onvif/ptz_service</tt:XAddr></tt:PTZ>"
            "</tds:Capabilities></tds:GetCapabilitiesResponse>"
        )

    def _GetSystemDateAndTime(self, _: etree._Element) -> str:
        return (
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
            "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
            "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        )

    def _GetProfiles(self, _: etree._Element) -> str:
        profiles = "".join(
            f'<trt:Profiles token="{token}" fixed="true"><tt:Name>{token}</tt:Name></trt:Profiles>'
            for token in self.profiles
        )
        return f"<trt:GetProfilesResponse>{profiles}</trt:GetProfilesResponse>"

    def _GetPresets(self, _: etree._Element) -> str:
        presets = "".join(
            f'<tptz:Preset token="{token}"><tt:Name>{name}</tt:Name></tptz:Preset>'
            for token, name in self.presets.items()
        )
        return f"<tptz:GetPresetsResponse>{presets}</tptz:GetPresetsResponse>"

    def _GotoPreset(self, operation: etree._Element) -> str:
        profile = operation.findtext(f"{{{TPTZ}}}ProfileToken") or ""
        preset = operation.findtext(f"{{{TPTZ}}}PresetToken") or ""
        if profile not in self.profiles or preset not in self.presets:
            raise web.HTTPBadRequest(
                text=self._fault("env:Sender", f"no preset {preset} on {profile}").text,
                content_type="application/soap+xml",
            )
        self.received.append(GotoPreset(profile, preset))
        self._changed.set()
        return "<tptz:GotoPresetResponse/>"
