"""The SIP server's configuration is made only of checked values, and Kamailio accepts it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from helppoint.domain.errors import InvalidInput
from helppoint.sip.kamailio_cfg import KamailioPorts, render

from .device import require_sip_software

PORTS = KamailioPorts("127.0.0.1", 5060, 5061, 5062, 5063, 5064, "helppoint", 30, 40)


def test_kamailio_accepts_the_configuration(tmp_path: Path) -> None:
    require_sip_software()
    config = tmp_path / "kamailio.cfg"
    rendered = render(PORTS)
    # A call rings as long as the scheme says (sip_ring_seconds), not Kamailio's 120 s.
    assert '#!substdef "!HP_RING_MS!600000!g"' in rendered
    assert 'modparam("tm", "fr_inv_timer", HP_RING_MS)' in rendered
    config.write_text(rendered)
    checked = subprocess.run(
        ["/usr/sbin/kamailio", "-c", "-f", str(config)], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stderr[-2000:]
    assert "config file ok" in checked.stderr.lower()


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1!g", "1.2.3.4\n#!substdef"])
def test_a_host_that_is_not_an_address_is_refused(host: str) -> None:
    with pytest.raises(ValueError):
        render(KamailioPorts(host, 5060, 5061, 5062, 5063, 5064, "helppoint", 30, 40))


def test_a_realm_that_could_change_the_script_is_refused() -> None:
    with pytest.raises(InvalidInput):
        render(KamailioPorts("127.0.0.1", 5060, 5061, 5062, 5063, 5064, 'x!g"', 30, 40))
