"""The subprocess server of the fault tests (server_process.py) on a port taken before it binds
it: its first start is made again on a fresh port, not failed."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import http_client

from .server_process import ServerProcess

pytestmark = pytest.mark.slow


def test_a_port_taken_before_the_server_binds_it_is_picked_again(
    sqlite_database: Any, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))  # bound, not listening: nobody answers there
        port = taken.getsockname()[1]
        server = ServerProcess(sqlite_database.url, port, tmp_path / "serve.log")
        try:
            server.start()
            assert server.port != port
            assert http_client(f"http://127.0.0.1:{server.port}").get("/healthz").is_success
        finally:
            server.stop()
