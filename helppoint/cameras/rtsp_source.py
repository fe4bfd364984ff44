"""A council camera stand-in: GStreamer's RTSP server sending a moving test picture in H.264.

The demo, the tests and the benchmark use it where no real camera is at hand. It runs as its
own process under Debian's Python (``/usr/bin/python3``), which has GStreamer's bindings
(python3-gi, gir1.2-gst-rtsp-server-1.0); helppoint's virtual environment need not have them.
:class:`RtspTestSource` starts and stops it from helppoint; run as a script it serves until
stopped and prints ``ready rtsp://…`` once it listens::

    /usr/bin/python3 helppoint/cameras/rtsp_source.py --port 8554 --user cam --password pw

Only the standard library is imported at the top: the script part imports ``gi`` itself.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import threading
from pathlib import Path

#: The interpreter that has GStreamer's bindings (Debian's own Python).
SYSTEM_PYTHON = "/usr/bin/python3"
#: Debian packages the source needs (scripts/test installs them as root).
PACKAGES = (
    "python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base "
    "gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-x"
)
STARTUP_TIMEOUT = 15.0


class TestSourceUnavailable(RuntimeError):
    """The test source cannot run here; the message says what to install."""

    __test__ = False


class RtspTestSource:
    """The stand-in camera as a child process: ``start()``, then ``url``; ``stop()`` or
    ``kill()`` (a camera that dies mid-stream)."""

    __test__ = False

    def __init__(
        self,
        *,
        port: int = 0,
        path: str = "/stream",
        user: str = "",
        password: str = "",
        width: int = 320,
        height: int = 240,
        fps: int = 15,
        gop: int = 15,
        kbps: int = 300,
        codec: str = "h264",
        profile: str = "constrained-baseline",
        host: str = "127.0.0.1",
    ) -> None:
        self.port = port
        self.path = path
        self.user = user
        self.password = password
        self.options = [
            f"--width={width}",
            f"--height={height}",
            f"--fps={fps}",
            f"--gop={gop}",
            f"--kbps={kbps}",
            f"--codec={codec}",
            f"--profile={profile}",
            f"--host={host}",
        ]
        self.host = host
        self.url = ""
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> RtspTestSource:
        """Start the server and wait until it listens; TestSourceUnavailable if it cannot."""
        if not os.access(SYSTEM_PYTHON, os.X_OK):
            raise TestSourceUnavailable(f"{SYSTEM_PYTHON} is missing; install {PACKAGES}")
        command = [
            SYSTEM_PYTHON,
            str(Path(__file__).resolve()),
            f"--port={self.port}",
            f"--path={self.path}",
            *self.options,
        ]
        environment = {**os.environ, "RTSP_SOURCE_USER": self.user}
        environment["RTSP_SOURCE_PASSWORD"] = self.password  # not on the command line
        self._process = subprocess.Popen(
            command,
            # The source quits when this pipe closes: it never outlives the process that
            # started it, however that process ends.
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        line = _read_line(self._process, STARTUP_TIMEOUT)
        if not line.startswith("ready "):
            error = self._stop_and_read_errors()
            raise TestSourceUnavailable(
                f"the RTSP test source did not start ({(error or line).strip()[-400:]}); "
                f"it needs the Debian packages {PACKAGES}"
            )
        self.url = line.split(" ", 1)[1].strip()
        self.port = int(self.url.split(":")[2].split("/")[0])
        return self

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def kill(self) -> None:
        """Die at once, as a camera losing power does (no RTSP TEARDOWN)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(10)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        if self._process is not None:
            for stream in (self._process.stdin, self._process.stdout, self._process.stderr):
                if stream is not None:
                    stream.close()
        self._process = None

    def _stop_and_read_errors(self) -> str:
        process = self._process
        if process is None:
            return ""
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(10)
        errors = process.stderr.read() if process.stderr is not None else ""
        self.stop()
        return errors

    def __enter__(self) -> RtspTestSource:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The process's first line of output, or "" if none came in time."""
    result: list[str] = []
    reader = threading.Thread(
        target=lambda: result.append(process.stdout.readline() if process.stdout else ""),
        daemon=True,
    )
    reader.start()
    reader.join(timeout)
    return result[0] if result else ""


# ---------- the server itself (runs under /usr/bin/python3) ----------

_PIPELINES = {
    # A ball that bounces and a clock: every frame differs from the one before.
    "h264": (
        "( videotestsrc is-live=true pattern=ball ! "
        "video/x-raw,width={width},height={height},framerate={fps}/1 ! "
        'timeoverlay font-desc="Sans 14" ! videoconvert ! '
        "x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bitrate={kbps} "
        "option-string={x264_options} ! "
        "video/x-h264,profile={profile} ! "
        "rtph264pay name=pay0 pt=96 config-interval=-1 )"
    ),
    # Motion JPEG: a codec browsers cannot take over WebRTC, so the server must re-encode.
    "jpeg": (
        "( videotestsrc is-live=true pattern=ball ! "
        "video/x-raw,width={width},height={height},framerate={fps}/1 ! "
        'timeoverlay font-desc="Sans 14" ! videoconvert ! video/x-raw,format=I420 ! '
        "jpegenc quality=70 ! "
        "rtpjpegpay name=pay0 pt=26 )"
    ),
}


_X264_OPTIONS = {
    "constrained-baseline": '""',
    "main": "cabac=1",
    "high": "cabac=1:8x8dct=1",
}


def _serve(args: argparse.Namespace) -> int:  # pragma: no cover - runs in the child process
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        _PIPELINES[args.codec].format(
            width=args.width,
            height=args.height,
            fps=args.fps,
            gop=args.gop,
            kbps=args.kbps,
            profile=args.profile,
            # ultrafast leaves out what main and high add: ask for it, so the stream really
            # is of the profile asked for.
            x264_options=_X264_OPTIONS[args.profile],
        )
    )
    # One encoder for every client, as a camera has.
    factory.set_shared(True)
    user = os.environ.get("RTSP_SOURCE_USER", "")
    password = os.environ.get("RTSP_SOURCE_PASSWORD", "")
    if user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "viewer")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role("viewer", "media.factory.access", True)
        permissions.add_permission_for_role("viewer", "media.factory.construct", True)
        factory.set_permissions(permissions)
    server.get_mount_points().add_factory(args.path, factory)
    loop = GLib.MainLoop()
    if server.attach(None) == 0:
        print(f"cannot listen on {args.host}:{args.port}", file=sys.stderr, flush=True)
        return 1
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, 15, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, 2, loop.quit)

    def parent_gone(*_: object) -> bool:
        # Our stdin is a pipe from the process that started us: end of file means it is gone.
        if not os.read(0, 4096):
            loop.quit()
            return False
        return True

    GLib.io_add_watch(
        0, GLib.PRIORITY_DEFAULT, GLib.IOCondition.IN | GLib.IOCondition.HUP, parent_gone
    )
    print(f"ready rtsp://{args.host}:{server.get_bound_port()}{args.path}", flush=True)
    loop.run()
    return 0


def main() -> int:  # pragma: no cover - runs in the child process
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8554, help="0: any free port")
    parser.add_argument("--path", default="/stream")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--gop", type=int, default=15, help="frames between key frames")
    parser.add_argument("--kbps", type=int, default=300)
    parser.add_argument("--codec", choices=sorted(_PIPELINES), default="h264")
    parser.add_argument(
        "--profile",
        choices=["constrained-baseline", "main", "high"],
        default="constrained-baseline",
        help="H.264 profile (cameras often send main or high)",
    )
    return _serve(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
