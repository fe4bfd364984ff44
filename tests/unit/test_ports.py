"""Ports for programs started next (baresip, a test's server) come from below the kernel's
ephemeral range, so an outgoing connection cannot take one between the pick and the bind."""

from __future__ import annotations

import socket

from helppoint.sim.ports import LOWEST, ephemeral_low, free_port, port_free


def test_a_free_port_is_below_the_ephemeral_range_and_free_for_tcp_and_udp() -> None:
    for _ in range(50):
        port = free_port()
        assert LOWEST <= port < ephemeral_low()
        assert port_free(port)


def test_a_pair_is_two_free_neighbours_below_the_ephemeral_range() -> None:
    for _ in range(50):
        port = free_port(pair=True)
        assert port >= LOWEST and port + 1 < ephemeral_low()
        assert port_free(port) and port_free(port + 1)


def test_a_port_in_use_for_either_protocol_is_not_free() -> None:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as taken:
            taken.bind(("127.0.0.1", free_port()))
            assert not port_free(taken.getsockname()[1])
