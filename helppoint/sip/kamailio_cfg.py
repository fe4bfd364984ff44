"""The SIP server's configuration: Kamailio's routing script, with this run's addresses.

Kamailio faces the devices: it parses and checks every SIP message (sanity), limits floods
(pike), authenticates REGISTER and INVITE by digest against the HA1s helppoint loads into its
`cred` table (JSON-RPC), keeps registrations (usrloc) and sends each registered device an
OPTIONS keepalive every `sip_keepalive` seconds. A device's INVITE goes, authenticated and
with its media turned into WebRTC by rtpengine, to helppoint's own user agent on loopback
(sip/agent.py), which never sees a device's packets directly.

What helppoint should hear of (refusals, floods) is logged as one line `HPSIP {json}` on
Kamailio's standard error, which helppoint reads (sip/servers.py).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from importlib import resources

from helppoint.domain.sip import check_token

#: The marker of the lines helppoint reads from Kamailio's log.
EVENT_MARKER = "HPSIP "


@dataclass(frozen=True)
class KamailioPorts:
    """Where this run's Kamailio listens and whom it talks to."""

    #: Devices' side: address and port (UDP and TCP).
    host: str
    port: int
    #: Loopback, helppoint's side: JSON-RPC over HTTP, the socket that talks to helppoint's
    #: user agent, that agent's own port, and rtpengine's control port.
    rpc_port: int
    internal_port: int
    agent_port: int
    rtpengine_port: int
    realm: str
    keepalive: int
    #: Requests one address may send in 2 s (pike).
    rate: int
    #: Seconds an INVITE may ring unanswered (tm's fr_inv_timer; its default is 120 s).
    ring_seconds: int = 600


def _socket(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def render(ports: KamailioPorts) -> str:
    """Kamailio's configuration file for these ports."""
    ipaddress.ip_address(ports.host)  # an address, never a name or anything else
    check_token(ports.realm, "the SIP realm")
    for value in (
        ports.port,
        ports.rpc_port,
        ports.internal_port,
        ports.agent_port,
        ports.rtpengine_port,
    ):
        if not 1 <= int(value) <= 65535:
            raise ValueError(f"port {value} out of range")
    defines = {
        "HP_DEVICES": _socket(ports.host, ports.port),
        "HP_RPC_PORT": str(ports.rpc_port),
        "HP_INTERNAL_PORT": str(ports.internal_port),
        "HP_AGENT_PORT": str(ports.agent_port),
        "HP_RTPENGINE_PORT": str(ports.rtpengine_port),
        "HP_REALM": ports.realm,
        "HP_KEEPALIVE": str(int(ports.keepalive)),
        "HP_RATE": str(int(ports.rate)),
        "HP_RING_MS": str(int(ports.ring_seconds) * 1000),
        # An INVITE transaction may live a minute beyond its ringing (tm's default is 180 s).
        "HP_INVITE_LIFETIME_MS": str((int(ports.ring_seconds) + 60) * 1000),
    }
    header = "#!KAMAILIO\n" + "".join(
        f'#!substdef "!{name}!{value}!g"\n' for name, value in defines.items()
    )
    script = resources.files("helppoint.sip").joinpath("kamailio.cfg").read_text()
    return header + script
