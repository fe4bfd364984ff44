"""The agent installs alone: `helppoint-agent`, built from packaging/agent (issue #20).

The wheel is built from this source tree and installed apart (pip --target, no dependencies).
Beside it, a directory holds exactly what `pip install helppoint-agent` would bring: the
distributions its metadata requires and theirs, linked from this environment (no download).
The agent then runs with Python's -S and only those two on its path — neither this checkout,
nor the server's editable install, nor any other library — links to the test's protocol
server and reports a press. A dependency the wheel forgot, or a module of the server it needs,
makes it fail.
"""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from .conftest import KEYS
from .protocol_server import Changes, ProtocolServer
from .test_agent_alone import ALONE_SCRIPT, SERVER_ONLY, run_and_press

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging" / "agent"

#: ALONE_SCRIPT, checking first that helppoint is the installed wheel's.
INSTALLED_SCRIPT = ALONE_SCRIPT.replace(
    "import helppoint.agent, helppoint.protocol",
    "import helppoint, os\n"
    "assert helppoint.__file__.startswith(os.environ['AGENT_SITE']), helppoint.__file__\n"
    "import helppoint.agent, helppoint.protocol",
)


def _name(requirement: str) -> str:
    return re.split(r"[\s;<>=!~\[(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _needs(distribution: str, seen: set[str]) -> set[str]:
    """The distribution and everything it requires (installed here), without extras' needs."""
    name = distribution.lower().replace("_", "-")
    if name in seen:
        return seen
    seen.add(name)
    try:
        requires = metadata.requires(name) or []
    except metadata.PackageNotFoundError:
        return seen
    for requirement in requires:
        if "extra ==" not in requirement:
            _needs(_name(requirement), seen)
    return seen


@pytest.fixture
def installed(tmp_path: Path) -> tuple[Path, Path]:
    """The agent's wheel built from this tree, and the directory it is installed in alone."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
         "-w", str(tmp_path / "dist"), str(PACKAGING)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    [wheel] = (tmp_path / "dist").glob("helppoint_agent-*.whl")
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet",
         "--target", str(site), str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return wheel, site


async def test_the_agent_wheel_installs_and_runs_alone(
    server: ProtocolServer, changes: Changes, tmp_path: Path, installed: tuple[Path, Path]
) -> None:
    wheel, site = installed
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry_points = archive.read(
            next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        ).decode()
    code = {n for n in names if not n.startswith("helppoint_agent-")}
    assert "helppoint/agent/runner.py" in code and "helppoint/protocol/device_link.py" in code
    # Nothing of the server is in it: the agent, the wire contracts, the shared call media.
    assert {n.split("/")[1] for n in code if n.count("/") > 1} == {"agent", "protocol", "calls"}
    assert {n for n in code if n.startswith("helppoint/calls/")} == {
        "helppoint/calls/__init__.py", "helppoint/calls/media.py", "helppoint/calls/opus.py",
    }  # fmt: skip
    assert "helppoint-agent = helppoint.agent.main:main" in entry_points
    declared = {_name(line.split(":", 1)[1]) for line in info.splitlines()
                if line.startswith("Requires-Dist:")}  # fmt: skip
    assert declared and not declared & {_name(m) for m in SERVER_ONLY}

    libraries = tmp_path / "libraries"
    declared_closure = set().union(*(_needs(name, set()) for name in declared))
    _link_distributions(declared_closure, Path(sysconfig.get_paths()["purelib"]), libraries)
    env = {"PYTHONPATH": f"{site}:{libraries}", "AGENT_SITE": str(site), "PATH": "/usr/bin:/bin"}
    await run_and_press(
        server,
        changes,
        [sys.executable, "-S", "-c", INSTALLED_SCRIPT, server.url, KEYS["HP-01"],
         str(tmp_path / "outbox.sqlite"), ",".join(SERVER_ONLY)],
        env=env,
        cwd=tmp_path,
    )  # fmt: skip


def _link_distributions(names: set[str], source: Path, target: Path) -> None:
    """Links into `target` the top-level files and directories of these installed
    distributions (as pip would have installed them there)."""
    target.mkdir()
    for name in names:
        try:
            files = metadata.distribution(name).files or []
        except metadata.PackageNotFoundError:
            continue  # a requirement for another platform or Python
        for top in {Path(str(f)).parts[0] for f in files}:
            if (source / top).exists() and not (target / top).exists():
                (target / top).symlink_to(source / top)


def test_helppoint_agent_command_line(tmp_path: Path) -> None:
    """`python -m helppoint.agent.main` (the console script's target) from the source tree:
    --help, and a clear refusal when the settings are incomplete."""
    helped = subprocess.run(
        [sys.executable, "-m", "helppoint.agent.main", "--help"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert helped.returncode == 0 and "usage: helppoint-agent" in helped.stdout
    refused = subprocess.run(
        [sys.executable, "-m", "helppoint.agent.main", "--config", str(tmp_path / "none.toml")],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "helppoint-agent: error: agent config file" in refused.stderr
