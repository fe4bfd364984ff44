"""`helppoint demo` runs one SIP help point (a baresip intercom it starts itself): pressing it
from the demo panel makes it call helppoint, and its alarm reaches the queue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helppoint.cli import DEMO_PASSWORD, DEMO_USER
from tests.conftest import http_client
from tests.demo_process import PATIENCE, DemoProcess
from tests.waiting import eventually_sync

from .device import free_port, require_sip_software


@pytest.mark.slow  # starts `helppoint demo` (a server and a SIP intercom) as a subprocess
def test_the_demo_has_a_sip_help_point_that_calls_when_pressed(tmp_path: Path) -> None:
    require_sip_software()
    demo = DemoProcess(free_port(), tmp_path, env={"HELPPOINT_INGEST_WRITER": "thread"})
    try:
        banner = demo.read_until("SIP help point")
        assert "SIP help point: SIP-01, a baresip intercom registered" in banner, banner
        demo.wait_serving()
        http = http_client(f"http://127.0.0.1:{demo.port}", timeout=None)
        login = http.post("/api/login", json={"username": DEMO_USER, "password": DEMO_PASSWORD})
        assert login.is_success, login.text

        def unit(unit_id: str) -> dict[str, Any]:
            units = {u["id"]: u for u in http.get("/api/units").json()}
            return units.get(unit_id, {})  # type: ignore[no-any-return]

        # The intercom registers (the console shows it linked), then a press makes it call.
        eventually_sync(
            lambda: unit("SIP-01").get("connected"), PATIENCE, 0.2, "the intercom registering"
        )
        assert http.post("/api/demo/press/SIP-01").json() == {"ok": True}
        eventually_sync(
            lambda: any(i["unit_id"] == "SIP-01" for i in http.get("/api/incidents/queue").json()),
            PATIENCE,
            0.2,
            "the press reaching the queue",
        )
    finally:
        demo.stop()
