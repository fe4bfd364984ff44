"""`helppoint demo` runs one SIP help point (a baresip intercom it starts itself): pressing it
from the demo panel makes it call helppoint, and its alarm reaches the queue."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from helppoint.cli import DEMO_PASSWORD, DEMO_USER
from tests.conftest import http_client

from .device import free_port, require_sip_software


@pytest.mark.slow  # starts `helppoint demo` (a server and a SIP intercom) as a subprocess
def test_the_demo_has_a_sip_help_point_that_calls_when_pressed(tmp_path: Path) -> None:
    require_sip_software()
    port = free_port()
    env = {**os.environ, "HELPPOINT_INGEST_WRITER": "thread"}
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "helppoint.cli",
            "demo",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path),
            "--press-every",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        banner = ""
        assert demo.stdout is not None
        while "SIP help point" not in banner:
            line = demo.stdout.readline()
            assert line, f"the demo stopped: {banner}"
            banner += line
        assert "SIP help point: SIP-01, a baresip intercom registered" in banner, banner
        http = http_client(f"http://127.0.0.1:{port}", timeout=None)
        deadline = time.monotonic() + 30
        while True:
            try:
                login = http.post(
                    "/api/login", json={"username": DEMO_USER, "password": DEMO_PASSWORD}
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the demo did not serve"
                time.sleep(0.2)
        assert login.is_success, login.text
        # The intercom registers (the console shows it linked), then a press makes it call.
        while True:
            units = {u["id"]: u for u in http.get("/api/units").json()}
            if units.get("SIP-01", {}).get("connected"):
                break
            assert time.monotonic() < deadline, f"the intercom did not register: {units}"
            time.sleep(0.2)
        assert http.post("/api/demo/press/SIP-01").json() == {"ok": True}
        while True:
            queue = http.get("/api/incidents/queue").json()
            if any(i["unit_id"] == "SIP-01" for i in queue):
                break
            assert time.monotonic() < deadline, "the press did not reach the queue"
            time.sleep(0.2)
    finally:
        os.killpg(demo.pid, signal.SIGINT)
        try:
            demo.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
