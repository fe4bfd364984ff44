"""A free port for a program started next that binds it a moment later (baresip, a test's
server, the demo's SIP server).

A port picked by binding port 0 comes from the kernel's ephemeral range, the same range every
outgoing connection's local port (and every other server started on port 0) comes from: in
the moment between the pick and the program's bind, the machine's other traffic can take it
("address already in use"). The ports here come from below that range, at random, and are
checked free for TCP and UDP, so only a program that asks for that very port could take it
meanwhile.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

#: Where ports are picked: below the kernel's ephemeral ports, and below 30000, where
#: helppoint's own SIP media ports begin (`sip_rtp_ports`).
LOWEST = 10000
_pick = random.Random()


def port_free(port: int) -> bool:
    """Whether nothing uses `port` on 127.0.0.1 now, for TCP or UDP."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def ephemeral_low() -> int:
    """The lowest port the kernel hands out on its own (at most 30000)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768  # Linux's default
    return min(low, 30000)


def free_port(pair: bool = False) -> int:
    """A port on 127.0.0.1 that nothing uses now (TCP and UDP), outside the ephemeral range;
    with `pair`, the next port is free too (a SIP port and its neighbour)."""
    high = ephemeral_low() - 1 - (1 if pair else 0)
    for _ in range(1000):
        port = _pick.randint(LOWEST, high)
        if all(port_free(p) for p in ((port, port + 1) if pair else (port,))):
            return port
    raise RuntimeError(f"no free port between {LOWEST} and {high}")
