"""`helppoint simulate` console commands for power and self-tests, against a real server."""

from __future__ import annotations

from typing import Any

from helppoint.sim.console import FleetConsole
from helppoint.sim.fleet import Fleet
from tests.waiting import eventually


def open_faults(server: Any) -> set[tuple[str, str]]:
    with server.database.uow() as uow:
        return {(t.unit_id, t.fault) for t in uow.tickets.list(open_only=True)}


async def test_battery_mains_fault_and_selftest_commands(live_server) -> None:  # type: ignore[no-untyped-def]
    credentials = [(u, live_server.key(u)) for u in ("HP-01", "HP-02")]
    fleet = Fleet(live_server.device_url, credentials, heartbeat_override=0.1, backoff_base=0.01)
    await fleet.start()
    output: list[str] = []
    console = FleetConsole(fleet, output.append)
    try:
        await fleet.wait_connected(10)
        await console.handle("battery HP-01 12")
        assert output[-1] == "HP-01: battery at 12 %"
        await console.handle("mains 2 off")
        assert output[-1] == "HP-02: mains off"
        await eventually(
            lambda: {("HP-01", "battery"), ("HP-02", "power")} <= open_faults(live_server)
        )
        await console.handle("fault HP-02 microphone")
        assert output[-1] == "HP-02: microphone will fail self-tests"
        await console.handle("selftest HP-02")
        assert output[-1] == "HP-02: self-test failed: speaker, microphone"
        await eventually(lambda: ("HP-02", "self_test") in open_faults(live_server))
        await console.handle("fault HP-02 none")
        await console.handle("selftest 2")
        assert output[-1] == "HP-02: self-test passed"
        for bad, message in [
            ("battery HP-01 120", "error: PERCENT must be from 0 to 100"),
            ("battery HP-01 lots", "error: PERCENT must be a number, not 'lots'"),
            ("mains HP-01 maybe", "error: usage: mains UNIT on|off"),
            (
                "fault HP-01 wheel",
                "error: PART must be one of light, camera, speaker, microphone or none",
            ),
            ("selftest", "error: usage: selftest UNIT"),
            ("selftest HP-99", "error: no unit 'HP-99'; units are HP-01, HP-02 (or 1-2)"),
        ]:
            await console.handle(bad)
            assert output[-1] == message
    finally:
        await fleet.stop()
