"""The agent runs on a unit without the server's dependencies (issue #20).

A subprocess refuses to import any library only the server uses, imports every module of
helppoint.agent and helppoint.protocol, then runs the agent against the test's protocol
server: it links, reports a press and stops cleanly. The layer itself is an import-linter
contract (pyproject.toml: "agent imports nothing of the server").
"""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap
from pathlib import Path

from .conftest import KEYS
from .protocol_server import Changes, ProtocolServer

#: Top-level packages of the server's dependencies (pyproject.toml) that the agent must not
#: need. aiortc, PyAV, numpy, websockets, httpx, Pillow, gpiozero and onvif are the agent's.
SERVER_ONLY = (
    "alembic",
    "argon2",
    "crcmod",
    "fastapi",
    "jinja2",
    "matplotlib",
    "multipart",
    "orjson",
    "pmtiles",
    "prometheus_client",
    "psycopg",
    "pydantic",
    "pyotp",
    "reportlab",
    "segno",
    "sqlalchemy",
    "starlette",
    "uvicorn",
    "webrtcvad",
    "xstatic",
    "yaml",
    "aiosipua",
)

ALONE_SCRIPT = textwrap.dedent("""
    import importlib, pkgutil, sys

    BLOCKED = set(sys.argv[4].split(","))

    class ServerOnly:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                raise ImportError(f"{name} is the server's, not the agent's")
            return None

    sys.meta_path.insert(0, ServerOnly())
    import helppoint.agent, helppoint.protocol
    for package in (helppoint.agent, helppoint.protocol):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)
    from helppoint.agent.runner import run_agent
    from helppoint.agent.settings import AgentSettings
    settings = AgentSettings(server_url=sys.argv[1], unit_id="HP-01", key=sys.argv[2],
                             outbox_path=sys.argv[3], mock_pins=True)
    sys.exit(run_agent(settings))
""")


async def run_and_press(
    server: ProtocolServer,
    changes: Changes,
    command: list[str],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> str:
    """Runs the agent `command` (ALONE_SCRIPT or a variant); it links, the button is pressed
    (mock pins: SIGUSR1), the server gets the activation, SIGTERM stops it cleanly. Its log."""
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    try:
        linked = changes.until(lambda: "HP-01" in server.connections, within=30)
        done = asyncio.ensure_future(process.wait())
        finished, _ = await asyncio.wait(
            {asyncio.ensure_future(linked), done}, return_when=asyncio.FIRST_COMPLETED
        )
        if done in finished:  # it could not even start: say why
            _, stderr = await process.communicate()
            raise AssertionError(stderr.decode())
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
    assert "activation" in [event.type for event in server.events("HP-01")]
    return stderr.decode()


async def test_the_agent_runs_without_the_servers_libraries(
    server: ProtocolServer, changes: Changes, tmp_path: Path
) -> None:
    await run_and_press(
        server,
        changes,
        [
            sys.executable,
            "-c",
            ALONE_SCRIPT,
            server.url,
            KEYS["HP-01"],
            str(tmp_path / "outbox.sqlite"),
            ",".join(SERVER_ONLY),
        ],
    )


def test_the_blocker_would_catch_a_server_import(tmp_path: Path) -> None:
    """The check can fail: the same blocker refuses to import the server's store."""
    import subprocess

    script = ALONE_SCRIPT.split("import helppoint.agent")[0] + "import helppoint.store.database\n"
    result = subprocess.run(
        [sys.executable, "-c", script, "", "", "", ",".join(SERVER_ONLY)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "is the server's, not the agent's" in result.stderr
