"""The media relay runs with real-time scheduling, so a busy machine does not make it late
(calls declined, ICE consent lost): `sip_media_priority` (docs/sip.md)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from helppoint.config import ConfigError, Settings


def relay_threads(sip_server: Any) -> dict[str, tuple[int, int]]:
    """rtpengine's threads: name -> (scheduling policy, real-time priority)."""
    pid = sip_server.app.state.sip.servers.rtpengine.process.pid
    threads = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        tid = int(task.name)
        name = (task / "comm").read_text().strip()
        threads[f"{name}/{tid}"] = (
            os.sched_getscheduler(tid),
            os.sched_getparam(tid).sched_priority,
        )
    return threads


def test_the_relay_threads_that_carry_media_and_control_run_round_robin(sip_server: Any) -> None:
    if os.geteuid() != 0:
        pytest.skip("real-time scheduling needs root or CAP_SYS_NICE (this run has neither)")
    threads = relay_threads(sip_server)
    pollers = {name: policy for name, policy in threads.items() if name.startswith("poller/")}
    assert pollers, threads
    assert set(pollers.values()) == {(os.SCHED_RR, 10)}, threads


@pytest.mark.parametrize("priority", [-1, 100])
def test_a_priority_out_of_range_is_refused(priority: int) -> None:
    with pytest.raises(ConfigError, match="sip_media_priority"):
        Settings().with_values({"sip_media_priority": priority})
