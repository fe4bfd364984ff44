"""Shared fixtures: databases (SQLite and PostgreSQL) and a live server in a thread."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from helppoint.config import Settings
from helppoint.domain.model import Role
from helppoint.services.operators import add_operator
from helppoint.services.seed import seed_demo
from helppoint.services.units import ProvisionedUnit
from helppoint.store.database import make_engine, make_session_factory
from helppoint.store.migrate import upgrade
from helppoint.store.uow import UnitOfWork
from tests import hang_watchdog, whole_machine
from tests.ast_threads import serialise_ast_parse
from tests.notify.receivers import HttpReceiver, SmtpReceiver
from tests.threaded_server import (
    ServerDidNotStart,
    bound_socket,
    port_of,
    start_in_thread,
    stop_thread,
)

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


class _Templates:
    """Every test gets a fresh, migrated database of its own. Migrating one runs every Alembic
    revision: 0.3-0.7 s on SQLite and 2-4 s on PostgreSQL on the 2-core machine, for each of
    ~1,000 tests. So each pytest process migrates one template of each kind, the first time a
    test asks, and copies it: a file copy on SQLite, `CREATE DATABASE ... TEMPLATE` on
    PostgreSQL (~0.06 s). A copy is the same database the migrations make
    (tests/unit/test_database_templates.py checks it against a freshly migrated one)."""

    def __init__(self) -> None:
        self._sqlite: Path | None = None
        self._postgres: tuple[str, str] | None = None  # template database, its schema
        self._admin: Engine | None = None
        self.postgres_copies = True  # False: the server refused CREATE DATABASE (schemas)
        self.admin_name = f"helppoint-tests-{os.getpid()}"

    def sqlite(self, target: Path) -> None:
        """A migrated SQLite database at `target`."""
        if self._sqlite is None:
            folder = Path(tempfile.mkdtemp(prefix="helppoint-template-"))
            atexit.register(shutil.rmtree, folder, True)
            path = folder / "template.sqlite"
            engine = make_engine(f"sqlite:///{path}")
            upgrade(engine)
            engine.dispose()
            with contextlib.closing(sqlite3.connect(path)) as connection:
                # Everything in the file, none of it left in its write-ahead log.
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._sqlite = path
        shutil.copyfile(self._sqlite, target)

    def admin(self) -> Engine:
        if self._admin is None:
            # A connection of its own each time: a pooled one would be dead after a test that
            # restarts PostgreSQL (tests/faults), and the next test's copy would fail with it.
            self._admin = create_engine(
                PG_ADMIN_URL,
                isolation_level="AUTOCOMMIT",
                poolclass=NullPool,
                connect_args={"application_name": self.admin_name},
            )
        return self._admin

    def postgres(self) -> tuple[str, str] | None:
        """A migrated template database of this process and the schema its tables are in (the
        tests' URLs name a schema, as a deployment sharing a database would); None if this
        server does not let the tests create databases."""
        if self._postgres is None and self.postgres_copies:
            self._drop_leftovers()
            name = f"hpt_{os.getpid()}_{uuid.uuid4().hex[:8]}"
            schema = f"t_{uuid.uuid4().hex[:12]}"
            try:
                with self.admin().connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
            except ProgrammingError:
                self.postgres_copies = False
                return None
            atexit.register(self.drop, name)
            engine = create_engine(self.url(name), isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            engine.dispose()
            engine = make_engine(self.url(name, schema))
            upgrade(engine)
            engine.dispose()
            self._postgres = (name, schema)
        return self._postgres

    @staticmethod
    def url(name: str, schema: str | None = None) -> str:
        url = make_url(PG_ADMIN_URL).set(database=name)
        if schema is not None:
            url = url.update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    def copy(self, template: str) -> str:
        name = f"hpt_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with self.admin().connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        return name

    def drop(self, name: str) -> None:
        """Drop a database, closing what is still connected to it (a test's leftover)."""
        with self.admin().connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def _drop_leftovers(self) -> None:
        """Databases of test processes on this machine that were killed before cleaning up."""
        with self.admin().connect() as conn:
            names = conn.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE 'hpt\\_%'")
            ).scalars()
            leftovers = [n for n in names if not Path(f"/proc/{n.split('_')[1]}").exists()]
        for name in leftovers:
            self.drop(name)


_templates = _Templates()


def _sqlite_database(tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "helppoint.sqlite"
    _templates.sqlite(path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    yield Database("sqlite", url, engine)
    engine.dispose()


def _postgres_database() -> Iterator[Database]:
    require_postgres()
    template = _templates.postgres()
    if template is None:
        yield from _postgres_schema()
        return
    name = _templates.copy(template[0])
    url = _templates.url(name, template[1])
    engine = make_engine(url)
    try:
        yield Database("postgres", url, engine)
    finally:
        engine.dispose()
        _templates.drop(name)


def _postgres_schema() -> Iterator[Database]:
    """A schema of its own in the test database, migrated (a server that refuses the tests
    CREATE DATABASE)."""
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
    """Start the app in a thread on a port bound first (tests/threaded_server.py).

    A test's `sip_port` or `sia_port` is a free port it noted (free_port) for a server the app
    starts later (the SIP server is a child program, the DC-09 receiver a job): should
    something else take it before it is bound, the server is started again on a fresh one.
    Read the port the server got from its settings.
    """
    overrides = dict(settings_overrides or {})
    for attempt in range(1, PORT_ATTEMPTS + 1):
        try:
            return _start_server(database, overrides)
        except ServerDidNotStart as failure:
            taken = _taken_port_setting(str(failure), overrides)
            if taken is None or attempt == PORT_ATTEMPTS:
                raise
            from helppoint.sim.ports import free_port as udp_and_tcp_free_port

            overrides[taken] = udp_and_tcp_free_port()
    raise AssertionError("not reached")


#: How many times a test server is started on fresh ports (see start_server).
PORT_ATTEMPTS = 3


def _taken_port_setting(failure: str, overrides: dict[str, Any]) -> str | None:
    """The setting whose port a failed start found taken, if it is one a test noted."""
    if "sip_port" in overrides and "SipPortTaken" in failure:
        return "sip_port"
    if "sia_port" in overrides and "address already in use" in failure.lower():
        return "sia_port"  # (the receiver's bind; the HTTP port is bound before the start)
    return None


def _start_server(
    database: Database, settings_overrides: dict[str, Any]
) -> tuple[LiveServer, Callable[[], None]]:
    from helppoint.web.app import create_app
    from helppoint.web.server_protocols import HTTP_PROTOCOL, WS_PROTOCOL

    sock = bound_socket()
    try:
        port = port_of(sock)
        settings = Settings().with_values(
            {"database_url": database.url, "port": port, **settings_overrides}
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
    except BaseException:
        sock.close()
        raise
    thread = start_in_thread(server, sock)
    return LiveServer(port, database, app, units), lambda: stop_thread(server, thread)


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


# ---------------------------------------------------------------- the fast tier

#: Fixtures that start a server (in a thread or a process) for the test.
SERVER_FIXTURES = frozenset({"live_server", "live_server_any", "server_factory", "console_server"})

#: Modules whose tests take more than a moment each: command-line runs that migrate a database,
#: key derivation, receivers and writer processes, property tests, whole months of history.
#: Chosen from a `--durations=0` run of `-m "not slow and not browser"` (docs/testing.md, "The
#: fast tier"): every module whose tests together took 2 s or more there.
SLOW_MODULES = frozenset(
    {
        "tests/admin/test_smaller_points.py",
        "tests/admin/test_unit_admin.py",
        "tests/agent/test_agent_alone.py",
        "tests/agent/test_agent_package.py",
        "tests/agent/test_fleet.py",
        "tests/agent/test_link.py",
        "tests/agent/test_runners.py",
        "tests/calls/test_recordings.py",
        "tests/calls/test_recordings_cli.py",
        "tests/calls/test_video_path.py",
        "tests/cameras/test_activation_places.py",
        "tests/cameras/test_camera_cli.py",
        "tests/cameras/test_demo_camera.py",
        "tests/cameras/test_registry.py",
        "tests/cli/test_cli.py",
        "tests/cli/test_cli_admin.py",
        "tests/cli/test_cli_interventions.py",
        "tests/cli/test_cli_scripts_and_tests.py",
        "tests/cli/test_cli_sia.py",
        "tests/evaluation/test_crime_import.py",
        "tests/media/test_onvif.py",
        "tests/media/test_prompts.py",
        "tests/notify/test_outbox.py",
        "tests/notify/test_police.py",
        "tests/notify/test_trouble.py",
        "tests/ops/test_backup.py",
        "tests/ops/test_deploy.py",
        "tests/ops/test_metrics.py",
        "tests/ops/test_metrics_workers.py",
        "tests/ops/test_upgrade.py",
        "tests/protocol/test_batch_writer.py",
        "tests/protocol/test_device_link.py",
        "tests/protocol/test_hellos.py",
        "tests/public/test_here_map.py",
        "tests/public/test_i18n.py",
        "tests/public/test_printables.py",
        "tests/public/test_survey.py",
        "tests/reports/test_answer_microseconds.py",
        "tests/reports/test_history.py",
        "tests/reports/test_monthly_report.py",
        "tests/reports/test_report_survey.py",
        "tests/reports/test_report_totals.py",
        "tests/security/test_csv_formulas.py",
        "tests/security/test_hostile_cookies.py",
        "tests/security/test_limits_and_errors.py",
        "tests/security/test_login_origin_and_cookies.py",
        "tests/security/test_login_throttle.py",
        "tests/security/test_sessions.py",
        "tests/security/test_totp.py",
        "tests/services/test_audit.py",
        "tests/services/test_incidents.py",
        "tests/services/test_ingest.py",
        "tests/services/test_ingest_writer.py",
        "tests/services/test_join_updates.py",
        "tests/services/test_known_units.py",
        "tests/services/test_migrations.py",
        "tests/services/test_plans.py",
        "tests/services/test_prepared.py",
        "tests/services/test_triage.py",
        "tests/sia/test_interop.py",
        "tests/sia/test_padding.py",
        "tests/sia/test_properties.py",
        "tests/sia/test_receiver.py",
        "tests/sip/test_sip_units.py",
        "tests/supervision/test_maintainers.py",
        "tests/supervision/test_power.py",
        "tests/supervision/test_selftest.py",
        "tests/supervision/test_sweep.py",
        "tests/triage/test_voice_judgement.py",
        "tests/unit/test_dependencies.py",
        "tests/unit/test_gcpauses.py",
        "tests/unit/test_session_in_store.py",
        "tests/web/test_staff_i18n.py",
    }
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Each test runs under the hang watchdog (tests/hang_watchdog.py), and alone if it is
    marked `whole_machine` (tests/whole_machine.py: the suite runs in two processes)."""
    alone = item.get_closest_marker(whole_machine.MARKER) is not None
    with whole_machine.holding(exclusive=alone):
        hang_watchdog.arm(item.nodeid)
        try:
            yield
        finally:
            hang_watchdog.disarm()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`slow` also marks what starts a server, needs PostgreSQL or is in SLOW_MODULES, so
    that `-m "not slow and not browser"` is the fast tier."""
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        fixtures = set(getattr(item, "fixturenames", ()))
        if (
            module in SLOW_MODULES
            or fixtures & SERVER_FIXTURES
            or item.get_closest_marker("postgres") is not None
        ):
            item.add_marker(pytest.mark.slow)
