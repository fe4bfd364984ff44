"""The demo's council camera: started, registered and linked to HP-05, or a clear line saying
why not; and `helppoint demo` itself shows it."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helppoint.cameras import rtsp_source
from helppoint.cameras.demo import CAMERA_ID, UNIT_ID, start_council_camera
from helppoint.services.cameras import camera_access, get_camera
from helppoint.services.seed import seed_demo
from helppoint.store.sealed import Sealer
from tests.conftest import Database
from tests.demo_process import DemoProcess
from tests.ports import free_port


def test_the_council_camera_is_started_registered_and_linked(sqlite_database: Database) -> None:
    seed_demo(sqlite_database.uow())
    sealer = Sealer(secrets.token_bytes(32))
    source, line = start_council_camera(sqlite_database.uow, sealer)
    assert source is not None, line
    try:
        assert f"{CAMERA_ID} ({source.url}, H.264) is linked to {UNIT_ID}" in line
        view = get_camera(sqlite_database.uow(), CAMERA_ID)
        assert [(link.unit_id, link.preset) for link in view.links] == [(UNIT_ID, "")]
        assert camera_access(sqlite_database.uow(), sealer, CAMERA_ID).rtsp_url == source.url
    finally:
        source.stop()
    # A kept demo database: the next start registers the new address.
    again, _ = start_council_camera(sqlite_database.uow, sealer)
    assert again is not None
    try:
        assert camera_access(sqlite_database.uow(), sealer, CAMERA_ID).rtsp_url == again.url
    finally:
        again.stop()


def test_without_gstreamer_the_demo_says_what_to_install(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_demo(sqlite_database.uow())
    monkeypatch.setattr(rtsp_source, "SYSTEM_PYTHON", "/nonexistent/python3")
    source, line = start_council_camera(sqlite_database.uow, Sealer(secrets.token_bytes(32)))
    assert source is None
    assert "Council camera: not started" in line
    assert "gir1.2-gst-rtsp-server-1.0" in line and "the demo runs without it" in line


@pytest.mark.slow
def test_helppoint_demo_starts_the_council_camera(tmp_path: Path) -> None:
    demo = DemoProcess(free_port(), tmp_path)
    try:
        banner = demo.read_until("Council camera:")
        assert f"Council camera: {CAMERA_ID} (rtsp://127.0.0.1:" in banner, banner
        demo.wait_serving()
    finally:
        demo.stop()


def test_the_source_never_outlives_the_process_that_started_it() -> None:
    starter = subprocess.Popen(
        [
            sys.executable, "-c",
            "import time\n"
            "from helppoint.cameras.rtsp_source import RtspTestSource\n"
            "print(RtspTestSource().start().pid, flush=True)\n"
            "time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert starter.stdout is not None
    source_pid = int(starter.stdout.readline())
    starter.kill()  # no chance to clean up
    starter.wait(10)
    # The source sees its stdin pipe close and quits; /proc shows it gone (or a zombie that
    # init reaps) within a few seconds.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _running(source_pid):
        time.sleep(0.1)
    assert not _running(source_pid)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
