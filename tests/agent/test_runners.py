"""The entry points the CLI calls: run_agent / serve_agent and run_simulation / simulate."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from helppoint.agent.backoff import Backoff
from helppoint.agent.link import DeviceLink
from helppoint.agent.outbox import Outbox
from helppoint.agent.runner import EXIT_CONFIG, EXIT_OK, EXIT_REPLACED, serve_agent
from helppoint.agent.settings import AgentSettings
from helppoint.sim.runner import simulate

from .conftest import KEYS
from .protocol_server import Changes, ProtocolServer


def agent_settings(server: ProtocolServer, tmp_path: Path, **changes: object) -> AgentSettings:
    return AgentSettings(
        server_url=server.url,
        unit_id="HP-01",
        key=KEYS["HP-01"],
        outbox_path=str(tmp_path / "outbox.sqlite"),
        mock_pins=True,
    ).replace(**changes)


async def test_serve_agent_runs_until_stopped(
    server: ProtocolServer, changes: Changes, tmp_path: Path
) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(serve_agent(agent_settings(server, tmp_path), stop))
    await changes.until(lambda: "HP-01" in server.connections)
    stop.set()
    assert await asyncio.wait_for(task, 10) == EXIT_OK
    await changes.until(lambda: bool(server.closes))
    assert server.closes == [("HP-01", 1000)]


async def test_serve_agent_exits_3_when_replaced(
    server: ProtocolServer, changes: Changes, tmp_path: Path
) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(serve_agent(agent_settings(server, tmp_path), stop))
    await changes.until(lambda: "HP-01" in server.connections)
    intruder = DeviceLink(server.url, "HP-01", KEYS["HP-01"], Outbox(), backoff=Backoff(0.01))
    intruder_task = asyncio.create_task(intruder.run())
    try:
        assert await asyncio.wait_for(task, 10) == EXIT_REPLACED
    finally:
        intruder.stop()
        await intruder_task


async def test_serve_agent_refuses_incomplete_or_unusable_settings(
    server: ProtocolServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stop = asyncio.Event()
    incomplete = agent_settings(server, tmp_path, key="")
    assert await serve_agent(incomplete, stop) == EXIT_CONFIG
    assert "missing: key" in caplog.text
    (tmp_path / "file").write_text("")
    unwritable = agent_settings(server, tmp_path, outbox_path=str(tmp_path / "file" / "o.db"))
    assert await serve_agent(unwritable, stop) == EXIT_CONFIG
    assert "cannot open the outbox" in caplog.text
    mute = agent_settings(server, tmp_path, speaker_command="say {nonsense}")
    assert await serve_agent(mute, stop) == EXIT_CONFIG
    assert "unknown placeholder" in caplog.text


async def test_simulate_takes_console_commands(
    server: ProtocolServer, changes: Changes, tmp_path: Path
) -> None:
    output: list[str] = []

    async def lines() -> AsyncIterator[str]:
        yield "press 1\n"
        await changes.until(lambda: bool(server.events("HP-01")))
        yield "status\n"
        yield "quit\n"

    code = await simulate(
        server.url,
        sorted(KEYS.items())[:2],
        str(tmp_path / "sim.sqlite"),
        interactive=True,
        lines=lines(),
        write=output.append,
    )
    assert code == EXIT_OK
    assert "HP-01: pressed; activation stored as seq 1" in output
    assert any(line.startswith("unit ") for line in output)


async def test_simulate_presses_at_random_until_stopped(
    server: ProtocolServer, changes: Changes, tmp_path: Path
) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(
        simulate(
            server.url,
            sorted(KEYS.items())[:3],
            ":memory:",
            press_every=0.01,
            seed=1,
            stop=stop,
            write=lambda _: None,
        )
    )
    await changes.until(lambda: any(server.events(u) for u in KEYS))
    stop.set()
    assert await asyncio.wait_for(task, 10) == EXIT_OK


async def test_simulate_refuses_bad_arguments(tmp_path: Path) -> None:
    output: list[str] = []
    assert await simulate("ws://h:1", [], ":memory:", write=output.append) == EXIT_CONFIG
    assert (
        await simulate("ws://h:1", [("A", "k")], ":memory:", press_every=-1, write=output.append)
        == EXIT_CONFIG
    )
    assert await simulate("h:1", [("A", "k")], ":memory:", write=output.append) == EXIT_CONFIG
    assert output == [
        "error: no units to simulate",
        "error: press_every must be a positive number of seconds (or 0 for none)",
        "error: server URL 'h:1' must look like ws://HOST:PORT or http://HOST:PORT",
    ]


AGENT_SCRIPT = textwrap.dedent("""
    import sys
    from helppoint.agent.runner import run_agent
    from helppoint.agent.settings import AgentSettings
    settings = AgentSettings(server_url=sys.argv[1], unit_id="HP-01", key=sys.argv[2],
                             outbox_path=sys.argv[3], mock_pins=True)
    sys.exit(run_agent(settings))
""")


async def test_run_agent_presses_on_sigusr1_and_stops_cleanly_on_sigterm(
    server: ProtocolServer, changes: Changes, tmp_path: Path
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        AGENT_SCRIPT,
        server.url,
        KEYS["HP-01"],
        str(tmp_path / "outbox.sqlite"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await changes.until(lambda: "HP-01" in server.connections, within=30)
        process.send_signal(signal.SIGUSR1)  # mock pins: SIGUSR1 presses the button
        await changes.until(lambda: bool(server.events("HP-01")), within=30)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    assert "agent for HP-01 stopped" in stderr.decode()
    await changes.until(lambda: bool(server.closes))
    assert server.closes == [("HP-01", 1000)]


SIM_SCRIPT = textwrap.dedent("""
    import sys
    from helppoint.sim.runner import run_simulation
    sys.exit(run_simulation(sys.argv[1], [("HP-01", sys.argv[2])], ":memory:", True, None, 1))
""")


async def test_run_simulation_reads_commands_from_stdin(
    server: ProtocolServer, changes: Changes
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SIM_SCRIPT,
        server.url,
        KEYS["HP-01"],
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdin is not None
        process.stdin.write(b"press HP-01\nfly away\n")
        await changes.until(lambda: bool(server.events("HP-01")), within=30)
        process.stdin.write(b"quit\n")
        stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    assert "HP-01: pressed; activation stored as seq 1" in stdout.decode()
    assert "error: unknown command 'fly'" in stdout.decode()


async def test_simulate_keeps_pressing_after_the_end_of_input(
    server: ProtocolServer, changes: Changes
) -> None:
    output: list[str] = []
    stop = asyncio.Event()

    async def no_lines() -> AsyncIterator[str]:
        return
        yield  # an async generator that ends at once, like stdin from /dev/null

    task = asyncio.create_task(
        simulate(
            server.url,
            sorted(KEYS.items())[:2],
            ":memory:",
            interactive=True,
            press_every=0.01,
            seed=2,
            stop=stop,
            lines=no_lines(),
            write=output.append,
        )
    )
    await changes.until(lambda: any(server.events(u) for u in KEYS))
    assert not task.done()
    stop.set()
    assert await asyncio.wait_for(task, 10) == EXIT_OK
    assert "end of input; random presses go on until Ctrl+C" in output
