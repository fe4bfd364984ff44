"""The SIP server's programs (Kamailio, rtpengine) are started without Python code in the
forked child, and end when helppoint dies without stopping them."""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import helppoint
from helppoint.sip.servers import SETPRIV, dying_with_parent
from tests.waiting import eventually_sync

ROOT = Path(helppoint.__file__).parent


def test_no_product_code_runs_python_in_a_forked_child() -> None:
    # A preexec_fn runs in the child of a fork of a process with threads, where a lock another
    # thread held at the fork is held for ever: the child hung before it started Kamailio
    # (tests/sip/test_bad_input.py, once in CI and once here) and the server's start with it.
    offenders = [
        f"{path.relative_to(ROOT.parent)}:{node.lineno}"
        for path in sorted(ROOT.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.keyword) and node.arg == "preexec_fn"
    ]
    assert offenders == []


def test_a_program_started_by_helppoint_ends_when_helppoint_is_killed(tmp_path: Path) -> None:
    assert os.path.exists(SETPRIV)  # util-linux: on every Debian machine
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import asyncio, pathlib, time
                from helppoint.sip.servers import ManagedProcess

                async def main():
                    child = ManagedProcess("sleeper", ["/bin/sleep", "300"], print)
                    await child.start()
                    pathlib.Path({str(pid_file)!r}).write_text(str(child.process.pid))
                    await asyncio.sleep(300)

                asyncio.run(main())
                """
            ),
        ]
    )
    try:

        def started() -> str:
            return pid_file.read_text() if pid_file.exists() else ""

        pid = int(eventually_sync(started, 30, what="the child started"))
    finally:
        parent.kill()  # no chance to stop its child
        parent.wait()

    def gone() -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]
        except FileNotFoundError:
            return True
        return state == "Z"  # ended, not yet reaped by its new parent

    eventually_sync(gone, 30, what="the child ended with its parent")


def test_without_setpriv_the_program_is_started_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("helppoint.sip.servers.SETPRIV", "/nonexistent/setpriv")
    assert dying_with_parent(["/usr/sbin/kamailio", "-DD"]) == ["/usr/sbin/kamailio", "-DD"]


#: A server process that has done video work on a thread (a call's or a camera view's, as
#: PyAV's reformatter keeps per thread) and then starts a SIP server program from uvloop.
AFTER_VIDEO = """
import asyncio, threading
import av, uvloop
from helppoint.sip.servers import ManagedProcess

def video_work(ready, stop):
    frame = av.VideoFrame(1280, 720, "yuv420p")
    frame.reformat(width=640, height=360, format="rgb24")
    ready.set()
    stop.wait()

async def main():
    ready, stop = threading.Event(), threading.Event()
    threading.Thread(target=video_work, args=(ready, stop), daemon=True).start()
    ready.wait()
    for _ in range(3):
        child = ManagedProcess("true", ["/bin/true"], print)
        await child.start()
        print("exit status", await child.wait(), flush=True)
    stop.set()

uvloop.run(main())
"""


def test_a_program_starts_in_a_process_that_has_done_video_work_on_a_thread() -> None:
    # Started by uvloop, the child ran Python's after-fork clean-up, which freed the video
    # thread's PyAV reformatter; freeing it waited for FFmpeg's slice threads, which the
    # child does not have, and uvloop waited for the child holding the GIL: the process froze
    # for good (twice in the whole suite here, and CI's 75-minute hang).
    process = subprocess.Popen(
        [sys.executable, "-c", AFTER_VIDEO],
        env={**os.environ, "PYTHONPATH": str(ROOT.parent)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a frozen fork of it is killed with it
    )
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise AssertionError("the program did not start within 60 s: the process froze") from None
    assert process.returncode == 0, err
    assert out.splitlines() == ["exit status 0"] * 3
