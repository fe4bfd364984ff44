"""A free port for a server a test starts and that binds it a moment later.

A port picked by binding port 0 comes from the kernel's ephemeral range, the same range every
outgoing connection's local port (and every other server started on port 0) comes from: in
the moment between the pick and the server's bind, the machine's other traffic can take it
("address already in use", a test failing for nothing it tests). The ports here come from
below that range, at random, and are checked free for TCP and UDP, so only a program that
asks for that very port could take it meanwhile.
"""

from __future__ import annotations

import random
from pathlib import Path

from helppoint.sim.sip_intercom import port_free

#: Where test ports are picked: below the kernel's ephemeral ports, and below 30000, where
#: helppoint's own SIP media ports begin (`sip_rtp_ports`).
LOWEST = 10000
_pick = random.Random()


def _ephemeral_low() -> int:
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768  # Linux's default
    return min(low, 30000)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing uses now (TCP and UDP), outside the ephemeral range."""
    high = _ephemeral_low() - 1
    for _ in range(1000):
        port = _pick.randint(LOWEST, high)
        if port_free(port):
            return port
    raise RuntimeError(f"no free port between {LOWEST} and {high}")
