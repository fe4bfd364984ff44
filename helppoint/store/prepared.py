"""Core statements compiled once per dialect and run on the driver's own cursor.

The ingest writer runs the same handful of statements for every batch of events. Run the
usual way, SQLAlchemy finds each statement in its compiled cache, binds every value through
its generic parameter machinery, expands list parameters anew, wraps the cursor in a Result
and processes every value it reads: for the writer's small statements that costs several
times what the database itself does (~50-600 µs a statement). Here a statement is compiled
once per dialect (and per length of its list parameters), each value goes through its column
type's own bind or result processor (the functions SQLAlchemy would apply), and the driver's
cursor runs it in the caller's transaction. The SQL is SQLAlchemy's, for whichever database
is in use; a driver error is raised as SQLAlchemy's DBAPIError, as usual.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from weakref import WeakKeyDictionary

import orjson
from sqlalchemy import JSON, Connection, Delete, Engine, Insert, Select, Update, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeDecorator

Processor = Callable[[Any], Any] | None
Statement = Insert | Update | Delete | Select[Any]


class _Slot:
    """Stands for a caller's value while a statement's parameters are laid out."""

    __slots__ = ("index", "key")

    def __init__(self, key: str, index: int | None = None) -> None:
        self.key = key
        self.index = index


@dataclass(frozen=True)
class _Plan:
    """The SQL for one dialect and list lengths, and where each bound value comes from."""

    sql: str
    #: Per bound value, in the driver's order: (caller's key, list index or None, processor),
    #: or (None, None, the processed constant) for a value the statement itself holds.
    sources: tuple[tuple[str | None, int | None, Any], ...]
    names: tuple[str, ...]  # the bound values' names (named paramstyles)
    positional: bool

    def bind(self, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        values = []
        for key, index, processor in self.sources:
            if key is None:
                values.append(processor)  # a constant, processed when planned
                continue
            value = params[key] if index is None else params[key][index]
            values.append(value if processor is None else processor(value))
        return values if self.positional else dict(zip(self.names, values, strict=True))


def _plan(statement: Statement, dialect: Dialect, params: Mapping[str, Any]) -> _Plan:
    """Lay out `statement` for the keys of `params` (lists: expanding parameters' values).

    On PostgreSQL a list is bound as one array, `x = ANY(%(list)b)`, instead of a value
    each, `x IN (%(list_1)s, ...)`: one SQL for every length, and psycopg caches what it
    makes of a query only up to 50 parameters (a batch's units are more).
    """
    compiled = statement.compile(dialect=dialect, column_keys=list(params))
    arrays = dialect.name == "postgresql"
    slots = {
        key: ([_Slot(key)] if arrays else [_Slot(key, n) for n in range(len(value))])
        if isinstance(value, list | tuple)
        else _Slot(key)
        for key, value in params.items()
    }
    state = compiled.construct_expanded_state(slots)
    sql = state.statement
    unknown = set(params) - set(compiled.binds)
    if unknown:
        raise ValueError(f"{sorted(unknown)} are not parameters of the statement")
    own = {
        key: compiled.binds[key].type.dialect_impl(dialect).bind_processor(dialect)
        for key in params
    }
    names = tuple(state.positiontup or ()) if dialect.positional else tuple(state.parameters)
    sources: list[tuple[str | None, int | None, Any]] = []
    for name in names:
        value = state.parameters[name]
        if isinstance(value, _Slot):
            if arrays and isinstance(params[value.key], list | tuple):
                sql = _as_array(sql, name, compiled.binds[value.key].type.compile(dialect=dialect))
                sources.append((value.key, None, _each(own[value.key])))
                continue
            sources.append((value.key, value.index, own[value.key]))
            continue
        processor = state.processors.get(name)
        if processor is None and name in compiled.binds:
            processor = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        sources.append((None, None, value if processor is None else processor(value)))
    return _Plan(sql, tuple(sources), names, bool(dialect.positional))


def _as_array(sql: str, name: str, type_: str) -> str:
    """`sql` with `IN (%(name)s)` (an expanding parameter laid out for one value) turned into
    `= ANY(%(name)b::type[])`, and NOT IN into `<> ALL(...)`: the same test of a list."""
    laid_out = re.compile(rf"(NOT )?IN \(%\({name}\)s(?:::[A-Z][A-Z ]*)?\)")
    element = _MODIFIER.sub("", type_)

    def as_array(found: re.Match[str]) -> str:
        test = "<> ALL" if found.group(1) else "= ANY"
        return f"{test}(%({name})b::{element}[])"

    sql, count = laid_out.subn(as_array, sql)
    if count != 1:
        raise ValueError(f"cannot bind list parameter {name!r} as an array in {sql!r}")
    return sql


def _each(processor: Processor) -> Callable[[Sequence[Any]], list[Any]]:
    """A list's values, each through `processor` (as a list: psycopg binds lists as arrays)."""
    if processor is None:
        return list
    return lambda values: [processor(value) for value in values]


def _cursor(connection: Connection) -> Any:
    return connection.connection.driver_connection.cursor()  # type: ignore[union-attr]


#: The key of a connection's open pipeline in its `info` (see `pipelined`).
_PIPELINE = "helppoint_pipeline"


@contextmanager
def _driver_errors(connection: Connection, sql: str, params: Any) -> Iterator[None]:
    """A driver error raised inside as SQLAlchemy's DBAPIError, as SQLAlchemy's own execution
    raises it: a connection found dead is invalidated (the pool then opens a new one), and the
    error says so (`connection_invalidated`)."""
    error = connection.dialect.loaded_dbapi.Error
    try:
        yield
    except error as exc:
        lost = connection.dialect.is_disconnect(exc, connection.connection.dbapi_connection, None)
        if lost:
            connection.invalidate(exc)
        raise DBAPIError.instance(
            sql, params, exc, error, connection_invalidated=lost, dialect=connection.dialect
        ) from exc


def _execute(connection: Connection, sql: str, params: Any, many: bool) -> Any:
    """Run on the driver's cursor, in the connection's transaction; the cursor."""
    cursor = _cursor(connection)
    try:
        with _driver_errors(connection, sql, params):
            if many:
                cursor.executemany(sql, params)
            else:
                cursor.execute(sql, params)
    except DBAPIError:
        cursor.close()
        raise
    return cursor


def send_sql(connection: Connection, sql: str, params: Any) -> None:
    """Run the driver's SQL in the connection's transaction, its answer not wanted: in a
    pipeline (`Pipelined`), without waiting for it."""
    _execute(connection, sql, params, many=False).close()


def _count(connection: Connection, cursor: Any) -> int:
    """How many rows the cursor's statement changed (in a pipeline, once it has run)."""
    pipeline = connection.info.get(_PIPELINE)
    if pipeline is not None:
        with _driver_errors(connection, "(pipeline sync)", None):
            pipeline.sync()
    count = int(cursor.rowcount)
    cursor.close()
    return count


def allow_pipelines(engine: Engine) -> None:
    """Let the engine's connections be `Pipelined` (once, before the connection is made: a
    SQLAlchemy connection sees the engine's event hooks of when it was made)."""
    if engine.dialect.name == "postgresql" and not event.contains(
        engine, "after_cursor_execute", sync_after_execute
    ):
        event.listen(engine, "after_cursor_execute", sync_after_execute)


class Pipelined:
    """On PostgreSQL, the connection's statements inside `with` go to the server without
    waiting for each one's answer (psycopg's pipeline mode), the answers read when one is
    needed.

    A statement sent with `send` is not waited for: it goes with the next one that is. Every
    other statement is waited for as usual: a query's rows, a count (`execute`), and every
    statement SQLAlchemy runs itself (the ORM's, `Session.execute`): the pipeline is synced
    after each (see `allow_pipelines`), so they read their results as they always do. A
    statement that failed raises at the next wait, as SQLAlchemy's DBAPIError. `close()`
    (or leaving the `with`) waits for every statement sent: call it before the COMMIT, so that
    nothing commits unless all of them ran. A no-op on other databases.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._entered: Any = None

    def __enter__(self) -> Pipelined:
        connection = self._connection
        if connection.dialect.name != "postgresql":
            return self
        if not event.contains(connection.engine, "after_cursor_execute", sync_after_execute):
            raise RuntimeError("allow_pipelines(engine) first")
        entered = connection.connection.driver_connection.pipeline()  # type: ignore[union-attr]
        with _driver_errors(connection, "(pipeline)", None):
            connection.info[_PIPELINE] = entered.__enter__()
        self._entered = entered
        return self

    def close(self) -> None:
        """Wait for every statement sent (a failed one raises here), and end the pipeline."""
        entered, self._entered = self._entered, None
        if entered is None:
            return
        connection = self._connection
        connection.info.pop(_PIPELINE, None)
        with _driver_errors(connection, "(pipeline)", None):
            entered.__exit__(None, None, None)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        entered, self._entered = self._entered, None
        if entered is not None:  # (the transaction fails anyway: its own errors only logged)
            self._connection.info.pop(_PIPELINE, None)
            entered.__exit__(exc_type, exc, tb)


def sync_after_execute(
    connection: Connection, cursor: Any, statement: Any, parameters: Any, context: Any, many: bool
) -> None:
    """SQLAlchemy's `after_cursor_execute` for engines whose connections may be `Pipelined`:
    a statement SQLAlchemy ran in a pipeline is waited for, so that it reads its rows and
    counts as usual (a driver error raised here is SQLAlchemy's to wrap, as any of its own)."""
    pipeline = connection.info.get(_PIPELINE)
    if pipeline is not None:
        pipeline.sync()


class PreparedStatement:
    """A Core statement run once per call with a mapping of parameters, like
    `Connection.execute`; a list value fills an expanding parameter (`IN`).

    Each length of a list needs its own SQL; as list parameters only say which values are
    in a set, a list is lengthened to the next power of two by repeating its last value, so
    a statement has a dozen plans at most, whatever the batch sizes. (On PostgreSQL a list is
    one array parameter, and one plan serves every length.)
    """

    def __init__(self, statement: Statement) -> None:
        self.statement = statement
        self._plans: WeakKeyDictionary[Dialect, dict[tuple[Any, ...], _Plan]] = WeakKeyDictionary()
        self._results: WeakKeyDictionary[Dialect, tuple[Processor, ...]] = WeakKeyDictionary()

    def execute(self, connection: Connection, params: Mapping[str, Any]) -> int:
        """Run a statement that returns no rows; how many rows it changed."""
        cursor = self._run(connection, params)
        return _count(connection, cursor)

    def send(self, connection: Connection, params: Mapping[str, Any]) -> None:
        """Run a statement that returns no rows, its count not wanted: in a pipeline
        (`Pipelined`), without waiting for it."""
        self._run(connection, params).close()

    def rows(self, connection: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run a query; its rows, each value processed by its column's type."""
        cursor = self._run(connection, params)
        try:
            with _driver_errors(connection, "(fetch)", None):  # (in a pipeline, it waits here)
                fetched = cursor.fetchall()
            processors = self._result_processors(connection.dialect, cursor.description)
        finally:
            cursor.close()
        if not any(processors):
            return [tuple(row) for row in fetched]
        return _process(fetched, processors)

    def returned(self, connection: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run an INSERT, UPDATE or DELETE with RETURNING; the rows it returned, as the driver
        gives them (for plain values such as ids, which no column type processes)."""
        cursor = self._run(connection, params)
        try:
            with _driver_errors(connection, "(fetch)", None):  # (in a pipeline, it waits here)
                return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def _run(self, connection: Connection, params: Mapping[str, Any]) -> Any:
        dialect = connection.dialect
        arrays = dialect.name == "postgresql"  # (a list is one array there: see _plan)
        if not arrays:
            params = {
                key: _padded(value) if isinstance(value, list | tuple) else value
                for key, value in params.items()
            }
        plans = self._plans.get(dialect)
        if plans is None:
            plans = self._plans[dialect] = {}
        shape = tuple(
            (key, (0 if arrays else len(value)) if isinstance(value, list | tuple) else None)
            for key, value in params.items()
        )
        plan = plans.get(shape)
        if plan is None:
            plan = plans[shape] = _plan(self.statement, dialect, params)
        return _execute(connection, plan.sql, plan.bind(params), many=False)

    def _result_processors(self, dialect: Dialect, description: Any) -> tuple[Processor, ...]:
        processors = self._results.get(dialect)
        if processors is None:
            assert isinstance(self.statement, Select), "only a query returns rows"
            # Some processors depend on the driver's type code (PostgreSQL numerics).
            processors = tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, described[1])
                for column, described in zip(
                    self.statement.selected_columns, description, strict=True
                )
            )
            self._results[dialect] = processors
        return processors


def _padded(values: Sequence[Any]) -> Sequence[Any]:
    """`values` lengthened to a power of two by repeating the last (an empty list stays)."""
    size = len(values)
    if size & (size - 1) == 0:
        return values
    return [*values, *[values[-1]] * ((1 << size.bit_length()) - size)]


def _process(
    rows: Sequence[Sequence[Any]], processors: tuple[Processor, ...]
) -> list[tuple[Any, ...]]:
    """Each value through its column's processor (None stays None, as processors keep it)."""
    if not rows:
        return []
    columns = []
    for values, processor in zip(zip(*rows, strict=True), processors, strict=True):
        if processor is None:
            columns.append(values)
        else:
            columns.append(tuple([None if v is None else processor(v) for v in values]))
    return list(zip(*columns, strict=True))


class BulkStatement:
    """A Core INSERT or UPDATE run for many rows: with the driver's `executemany`, or on
    PostgreSQL as one statement over the rows as one JSON document (`json_to_recordset`).

    Rows give their values in `keys` order; a value repeated throughout a batch (the receive
    time, an event type) is bound once. On PostgreSQL `executemany` runs the statement once
    per row in the server (a hundred inserts for a batch of a hundred alarms, each with its
    own executor start): one statement reading the rows from one document costs the server and
    psycopg a fraction of that, and does the same (rows inserted in order; an UPDATE's count
    is the rows it changed).
    """

    def __init__(
        self, statement: Insert | Update | Delete, keys: Sequence[str], repeated: Sequence[str] = ()
    ) -> None:
        """`repeated` names the keys whose values mostly repeat within a batch, each bound
        once per batch (only for values that bind alike when equal, such as UTC times and
        enums)."""
        self.statement = statement
        self.keys = tuple(keys)
        self._repeated = frozenset(repeated)
        unknown = self._repeated - set(self.keys)
        if unknown:
            raise ValueError(f"repeated keys {sorted(unknown)} are not among the keys")
        self._plans: WeakKeyDictionary[
            Dialect, tuple[_Plan, tuple[int, ...], tuple[Processor, ...], str | None]
        ] = WeakKeyDictionary()

    def execute(self, connection: Connection, rows: Sequence[Sequence[Any]]) -> int:
        """Run the statement for every row in the connection's transaction; returns how many
        rows it changed in all."""
        cursor = self._run(connection, rows)
        return 0 if cursor is None else _count(connection, cursor)

    def send(self, connection: Connection, rows: Sequence[Sequence[Any]]) -> None:
        """Run the statement for every row, its count not wanted: in a pipeline
        (`Pipelined`), without waiting for it."""
        cursor = self._run(connection, rows)
        if cursor is not None:
            cursor.close()

    def _run(self, connection: Connection, rows: Sequence[Sequence[Any]]) -> Any:
        if not rows:
            return None
        plan, order, processors, from_rows = self._plan(connection.dialect)
        columns = list(zip(*rows, strict=True))
        bound: list[Sequence[Any]] = []
        for key, values, processor in zip(self.keys, columns, processors, strict=True):
            if processor is None:
                bound.append(values)
            elif key in self._repeated:
                once = {value: processor(value) for value in set(values)}
                bound.append([once[value] for value in values])
            else:
                bound.append([processor(value) for value in values])
        if from_rows is not None:
            # The rows as one JSON document (orjson, in C), which the server reads with
            # json_to_recordset: psycopg dumped each value of an array in Python, ~8 µs a
            # row of the events' eight columns.
            keys = self.keys
            document = orjson.dumps(
                [dict(zip(keys, row, strict=True)) for row in zip(*bound, strict=True)]
            )
            return _execute(connection, from_rows, {_ROWS: document.decode()}, many=False)
        if plan.positional:
            params: list[Any] = list(zip(*(bound[i] for i in order), strict=True))
        else:
            params = [dict(zip(self.keys, row, strict=True)) for row in zip(*bound, strict=True)]
        return _execute(connection, plan.sql, params, many=True)

    def _plan(
        self, dialect: Dialect
    ) -> tuple[_Plan, tuple[int, ...], tuple[Processor, ...], str | None]:
        found = self._plans.get(dialect)
        if found is None:
            plan = _plan(self.statement, dialect, dict.fromkeys(self.keys))
            if any(key is None for key, _, _ in plan.sources):
                raise ValueError("a bulk statement binds only the rows' values")
            index = {key: n for n, key in enumerate(self.keys)}
            # The driver's order of the rows' values (positional paramstyles).
            order = tuple(index[key] for key, _, _ in plan.sources if key is not None)
            if sorted(order) != list(range(len(self.keys))):
                raise ValueError(
                    f"keys {sorted(self.keys)} differ from the statement's parameters "
                    f"{sorted(key for key, _, _ in plan.sources if key is not None)}"
                )
            processors = tuple(processor for _, _, processor in _by_key(plan, order))
            from_rows = None
            if dialect.name == "postgresql":
                from_rows, text = _from_rows(self.statement, plan.sql, self.keys, dialect)
                # A JSON value goes as the text the engine's serializer writes (the driver's
                # processor wraps it for psycopg instead).
                serializer = getattr(dialect, "_json_serializer", None) or json.dumps
                processors = tuple(
                    serializer if key in text else processor
                    for key, processor in zip(self.keys, processors, strict=True)
                )
            found = self._plans[dialect] = (plan, order, processors, from_rows)
        return found


#: A bound value in the SQL of PostgreSQL's drivers (named "pyformat" parameters).
_NAMED = re.compile(r"%\((\w+)\)s")
#: A type's length or precision: VARCHAR(64), NUMERIC(10, 2).
_MODIFIER = re.compile(r"\([\d, ]+\)")


#: The parameter that holds a bulk statement's rows on PostgreSQL (`_from_rows`).
_ROWS = "rows_json"


def _from_rows(
    statement: Insert | Update | Delete, sql: str, keys: Sequence[str], dialect: Dialect
) -> tuple[str, frozenset[str]]:
    """`sql` (the statement for one row, named parameters) for many rows on PostgreSQL: the
    rows bound as one JSON array of objects (a key per value), read with json_to_recordset
    in order (ids are given as with one row after another); and the keys of JSON columns,
    whose values go in it as JSON text."""
    if dialect.paramstyle != "pyformat":
        raise ValueError(f"bulk rows need named parameters, not {dialect.paramstyle}")
    binds = statement.compile(dialect=dialect, column_keys=list(keys)).binds
    text: set[str] = set()

    def record_type(key: str) -> str:
        type_ = binds[key].type
        if isinstance(type_, TypeDecorator):
            type_ = type_.impl_instance
        if isinstance(type_, JSON):
            # The bind processor has written the value as JSON text already (the engine's
            # serializer); the statement casts it to the column's JSON type.
            text.add(key)
            return "TEXT"
        # Without the type's length: VARCHAR(64) would cut a longer value short, where
        # storing it in the column refuses it (as one row at a time does).
        return _MODIFIER.sub("", type_.compile(dialect=dialect))

    columns = ", ".join(f'"{key}" {record_type(key)}' for key in keys)
    rows = f"json_to_recordset(%({_ROWS})s::JSON) AS rows_({columns})"

    def each_row(text: str) -> str:
        return _NAMED.sub(lambda found: f'rows_."{found.group(1)}"', text)

    if isinstance(statement, Insert) and not statement._returning:
        head, values = sql.split(") VALUES (")
        # (the dialect's compiler adds RETURNING the new ids, which nothing reads here)
        values = values.rsplit(") RETURNING ", 1)[0].removesuffix(")")
        return f"{head}) SELECT {each_row(values)} FROM {rows}", frozenset(text)
    if isinstance(statement, Update) and " WHERE " in sql:
        changes, where = sql.split(" WHERE ", 1)
        return f"{each_row(changes)} FROM {rows} WHERE {each_row(where)}", frozenset(text)
    raise ValueError(f"no form over rows for {sql!r}")


def _by_key(plan: _Plan, order: tuple[int, ...]) -> list[tuple[str | None, int | None, Any]]:
    """The plan's sources in the rows' `keys` order."""
    by_key: list[tuple[str | None, int | None, Any]] = [(None, None, None)] * len(order)
    for source, index in zip(plan.sources, order, strict=True):
        by_key[index] = source
    return by_key
