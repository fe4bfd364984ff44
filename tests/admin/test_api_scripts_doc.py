"""docs/api-scripts.md: every example on the page runs against a real server with a token."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from helppoint.domain.model import Role
from tests.conftest import LiveServer
from tests.web.test_api import client

DOC = Path(__file__).parents[2] / "docs" / "api-scripts.md"


def examples(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_the_pages_examples_run(live_server: LiveServer) -> None:
    admin = client(live_server, "adam", Role.ADMIN)
    token = admin.post("/api/tokens", json={"name": "docs"}).json()["token"]
    env = {**os.environ, "HELPPOINT_URL": live_server.base_url, "HELPPOINT_TOKEN": token}
    shell, python = examples("sh"), examples("python")
    assert len(shell) == 2 and len(python) == 1
    outputs = []
    for script in shell:
        run = subprocess.run(
            ["sh", "-c", script], env=env, capture_output=True, text=True, timeout=60
        )
        assert run.returncode == 0, (script, run.stderr)
        outputs.append(run.stdout)
    assert '"username":"adam"' in outputs[0].replace(" ", "")
    assert "Racecourse lit path" in outputs[1]
    routes = admin.get("/api/routes").json()
    assert [r["properties"]["name"] for r in routes] == ["Racecourse lit path"]
    run = subprocess.run(
        [sys.executable, "-c", python[0]], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "signed in as adam (admin)"
    assert "HP-01" in lines[1] and "Market Square" in run.stdout
    assert lines[-1].endswith("open incidents")
