"""Shared fixtures: databases (SQLite and PostgreSQL) and a live server in a thread."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from helppoint.config import Settings
from helppoint.domain.model import Role
from helppoint.services.operators import add_operator
from helppoint.services.seed import seed_demo
from helppoint.services.units import ProvisionedUnit
from helppoint.store.database import make_engine, make_session_factory
from helppoint.store.migrate import upgrade
from helppoint.store.uow import UnitOfWork
from tests.ast_threads import serialise_ast_parse
from tests.notify.receivers import HttpReceiver, SmtpReceiver

serialise_ast_parse()  # CPython < 3.11.8: see tests/ast_threads.py

PG_ADMIN_URL = os.environ.get(
    "HELPPOINT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = bool(os.environ.get("CI"))


def _postgres_reachable() -> str | None:
    """None if PostgreSQL answers, else the reason it does not."""
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


_PG_PROBLEM: str | bool | None = False  # False = not probed yet


def require_postgres() -> None:
    """Skip loudly on a machine without PostgreSQL; fail in CI, where it is mandatory."""
    global _PG_PROBLEM
    if _PG_PROBLEM is False:
        _PG_PROBLEM = _postgres_reachable()
    if _PG_PROBLEM:
        message = f"PostgreSQL at {PG_ADMIN_URL} is not reachable ({_PG_PROBLEM})"
        if IN_CI:
            pytest.fail(message + " - PostgreSQL tests are mandatory in CI", pytrace=False)
        pytest.skip("SKIPPED LOUDLY: " + message)


@dataclass
class Database:
    """A fresh, migrated database for one test."""

    kind: str
    url: str
    engine: Engine

    def uow(self) -> UnitOfWork:
        return UnitOfWork(make_session_factory(self.engine))

    def session(self) -> Session:
        """A session of its own, for a test that looks at (or plants) rows directly: the
        product reaches the database only through a unit of work's repositories."""
        return make_session_factory(self.engine)()


def _sqlite_database(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'helppoint.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    yield Database("sqlite", url, engine)
    engine.dispose()


def _postgres_database() -> Iterator[Database]:
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in PG_ADMIN_URL else "?"
    url = f"{PG_ADMIN_URL}{separator}options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)
    try:
        yield Database("postgres", url, engine)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The same test on the embedded SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield from _sqlite_database(tmp_path)
    else:
        yield from _postgres_database()


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Iterator[Database]:
    yield from _sqlite_database(tmp_path)


@pytest.fixture
def postgres_database() -> Iterator[Database]:
    yield from _postgres_database()


CSRF_COOKIE = "helppoint_csrf"


def send_csrf_token(client: httpx.Client | httpx.AsyncClient) -> None:
    """Make a client send the CSRF token (kept in a cookie once signed in) as a browser would.

    State-changing requests with the session cookie need it (helppoint/web/security.py).
    """

    def add_token(request: httpx.Request) -> None:
        token = client.cookies.get(CSRF_COOKIE)
        if token and request.method not in ("GET", "HEAD", "OPTIONS"):
            request.headers["X-CSRF-Token"] = token

    async def add_token_async(request: httpx.Request) -> None:
        add_token(request)

    hook = add_token_async if isinstance(client, httpx.AsyncClient) else add_token
    client.event_hooks = {**client.event_hooks, "request": [*client.event_hooks["request"], hook]}


def http_client(base_url: str, **kwargs: Any) -> httpx.Client:
    """An HTTP client for a live server that sends the CSRF token like the console does.

    No time limit on an answer (httpx's default is 5 s): a slow answer on a loaded machine
    (an argon2 login, a PDF) is not a failure, and pytest-timeout stops a test that hangs.
    """
    kwargs.setdefault("timeout", None)
    client = httpx.Client(base_url=base_url, **kwargs)
    send_csrf_token(client)
    return client


def async_http_client(base_url: str, **kwargs: Any) -> httpx.AsyncClient:
    """The asynchronous http_client (no time limit on an answer either)."""
    kwargs.setdefault("timeout", None)
    client = httpx.AsyncClient(base_url=base_url, **kwargs)
    send_csrf_token(client)
    return client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    """A real server (uvicorn) running the app in a background thread."""

    port: int
    database: Database
    app: Any
    units: list[ProvisionedUnit]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def device_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/device/v1"

    def key(self, unit_id: str) -> str:
        return next(u.key for u in self.units if u.unit_id == unit_id)

    def add_operator(self, username: str, password: str, role: Role = Role.OPERATOR) -> None:
        add_operator(self.database.uow(), username, password, role)


def start_server(
    database: Database, settings_overrides: dict[str, Any] | None = None
) -> Callable[[], None] | Any:
    from helppoint.web.app import create_app
    from helppoint.web.server_protocols import HTTP_PROTOCOL, WS_PROTOCOL

    port = free_port()
    settings = Settings().with_values(
        {"database_url": database.url, "port": port, **(settings_overrides or {})}
    )
    units = seed_demo(database.uow())
    app = create_app(settings, database.engine)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws_max_size=settings.max_frame_bytes,
        lifespan="on",
        http=HTTP_PROTOCOL,
        ws=WS_PROTOCOL,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    # Until it listens or its thread ends; the deadline only guards against a hang (a busy
    # machine can take tens of seconds to start the writer process and the jobs).
    deadline = time.monotonic() + 240
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)

    return LiveServer(port, database, app, units), stop


@pytest.fixture
def live_server(sqlite_database: Database) -> Iterator[LiveServer]:
    """A running server on a fresh SQLite database seeded with the demo's eight units."""
    server, stop = start_server(sqlite_database)
    try:
        yield server
    finally:
        stop()


@pytest.fixture
def live_server_any(database: Database) -> Iterator[LiveServer]:
    """A running server on SQLite and on PostgreSQL."""
    server, stop = start_server(database)
    try:
        yield server
    finally:
        stop()


@pytest.fixture
def server_factory(sqlite_database: Database) -> Iterator[Callable[..., LiveServer]]:
    """Start a server on the test's SQLite database with some settings changed."""
    stops: list[Callable[[], None]] = []

    def make(**overrides: Any) -> LiveServer:
        server, stop = start_server(sqlite_database, overrides)
        stops.append(stop)
        return server  # type: ignore[no-any-return]

    yield make
    for stop in stops:
        stop()


# Real notification receivers (tests/notify/receivers.py), shared by the notification,
# escalation and maintainer tests.
@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp_receiver() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver().start()
    yield receiver
    receiver.stop()
