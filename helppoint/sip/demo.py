"""The demo's SIP help point: a baresip intercom registered with the demo's SIP server.

`helppoint demo` shows a newcomer a standard SIP intercom beside the simulated agents: a unit
SIP-01 on the Racecourse path whose "intercom" is Debian's baresip, started by the demo. A
press (from the console's demo panel) makes it call helppoint; it plays a test tone as its
caller's voice and takes the light's DTMF. Without the Debian packages the demo runs without
it and says which to install.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from helppoint.config import Settings
from helppoint.services.sip_units import add_sip_unit
from helppoint.sim.ports import free_port
from helppoint.sim.sip_intercom import BaresipIntercom
from helppoint.store.uow import UnitOfWork

UNIT = "SIP-01"
NAME = "Racecourse gate intercom (SIP)"
#: Where it stands: the Racecourse path's gate on Kettering Road.
LATITUDE, LONGITUDE = 52.2445, -0.8829
PACKAGES = {
    "kamailio": "/usr/sbin/kamailio",
    "rtpengine-daemon": "/usr/bin/rtpengine",
    "baresip-core": "/usr/bin/baresip",
}


def missing_packages(settings: Settings) -> list[str]:
    """The Debian packages the demo's SIP help point needs and this machine lacks."""
    paths = {
        "kamailio": settings.sip_kamailio,
        "rtpengine-daemon": settings.sip_rtpengine,
        "baresip-core": shutil.which("baresip") or PACKAGES["baresip-core"],
    }
    return [package for package, path in paths.items() if not Path(path).exists()]


def prepare(
    settings: Settings, uow_factory: Callable[[], UnitOfWork], data_dir: Path
) -> tuple[Settings, BaresipIntercom | None, str]:
    """The demo's settings with SIP on, its intercom (not started yet) and a line to print;
    the settings unchanged, None and the reason when the packages are missing."""
    missing = missing_packages(settings)
    if missing:
        return (
            settings,
            None,
            "SIP help point: left out (install the Debian packages " + " ".join(missing) + ")",
        )
    port = settings.sip_port or free_port()
    settings = settings.with_values({"sip_port": port, "sip_host": "127.0.0.1"})
    password = secrets.token_urlsafe(18)
    with uow_factory() as uow:
        add_sip_unit(
            uow,
            UNIT,
            NAME,
            "racecourse",
            LATITUDE,
            LONGITUDE,
            realm=settings.sip_realm,
            keepalive=settings.sip_keepalive,
            password=password,
            light_on="dtmf:*1",
            light_off="dtmf:#1",
            actor="demo",
        )
        uow.commit()
    home = Path(tempfile.mkdtemp(prefix="intercom-", dir=data_dir))
    intercom = BaresipIntercom(home, UNIT, password, ("127.0.0.1", port), tone_hz=440.0)
    return (
        settings,
        intercom,
        f"SIP help point: {UNIT}, a baresip intercom registered at 127.0.0.1:{port}",
    )


def press(intercom: BaresipIntercom, port: int) -> None:
    """What a press does on an intercom: it calls helppoint."""
    intercom.command("dial", f"sip:helppoint@127.0.0.1:{port}")
