"""Engines for the embedded SQLite default and for PostgreSQL."""

from __future__ import annotations

import json
import weakref
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from helppoint.store.mapping import start_mappers


class DatabaseURLError(ValueError):
    """The configured database URL cannot be used."""


def normalise_url(url: str) -> str:
    """Accept the usual spellings of a PostgreSQL URL and pick the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


#: Types orjson would write that the standard library refuses: left to it (and its error).
_AS_STDLIB = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def json_text(value: Any) -> str:
    """How JSON columns are written: what `json.dumps` would store, ten times faster.

    orjson writes compact text without escaping non-ASCII, which reads back the same. What it
    would write differently from the standard library (NaN and infinity become null; types
    and huge ints it refuses) is written by the standard library instead.
    """
    try:
        text = orjson.dumps(value, option=_AS_STDLIB)
    except TypeError:  # orjson.JSONEncodeError: not plain JSON data
        return json.dumps(value)
    if b"null" in text:  # None, or NaN/infinity turned into null: let json decide
        return json.dumps(value)
    return text.decode()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, full fsync on commit, foreign keys and write locking."""
    start_mappers()
    kwargs.setdefault("json_serializer", json_text)
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse message
        raise DatabaseURLError(f"cannot parse database URL {url!r}: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)
    raise DatabaseURLError(
        f"unsupported database {parsed.get_backend_name()!r}: use sqlite:/// or postgresql://"
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (see below), not the sqlite3 module.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before we acknowledge a press to the unit.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            # Only reads (`reading`): no write lock. In WAL mode it reads the last commit
            # before it began, and neither waits for the event writer's commits nor holds
            # them up.
            conn.exec_driver_sql("BEGIN")
            return
        # IMMEDIATE takes the write lock up front, so two writers wait on busy_timeout
        # instead of failing with "database is locked" when a reader upgrades to a writer.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


#: The execution option of a connection whose transactions only read (`reading`).
READ_ONLY = "helppoint_read_only"
_reading: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def reading(engine: Engine) -> Engine:
    """The engine for transactions that only read: on SQLite they begin without the write
    lock (every other transaction takes it at BEGIN, so a read held up the event writer's
    commits, and waited for them, in a flood of alarms). The same pool; on PostgreSQL the same
    transactions."""
    found = _reading.get(engine)
    if found is None:
        found = _reading[engine] = engine.execution_options(**{READ_ONLY: True})
    return found


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)
