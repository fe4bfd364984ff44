"""Many rows through one Core statement, bound by the columns' own types at the driver level."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, CursorResult, Delete, Insert, Update
from sqlalchemy.engine import Dialect


@dataclass(frozen=True)
class _Plan:
    """The statement compiled for one dialect, and how to bind each value of a row."""

    sql: str
    names: tuple[str, ...]  # the row's values in this order (positional paramstyles)
    processors: tuple[Callable[[Any], Any] | None, ...]
    positional: bool


class BulkStatement:
    """A Core INSERT, UPDATE or DELETE run for many rows with the driver's `executemany`.

    Executing a statement with many rows the usual way, SQLAlchemy binds every value of every
    row through its generic parameter machinery, which costs more than the database's own
    work for the ingest writer's rows (~5-15 µs a row). Here the statement is compiled once
    per dialect and each value goes through its column type's own bind processor, the same
    function SQLAlchemy would apply; a value repeated throughout a batch (the receive time,
    an event type) is bound once. The SQL is SQLAlchemy's, for whichever database is in use.
    """

    def __init__(
        self, statement: Insert | Update | Delete, keys: Sequence[str], repeated: Sequence[str] = ()
    ) -> None:
        """`keys` name the statement's bound parameters in the order rows give their values;
        `repeated` names those whose values mostly repeat within a batch, each bound once per
        batch (only for values that bind alike when equal, such as UTC times and enums)."""
        self.statement = statement
        self.keys = tuple(keys)
        self._repeated = frozenset(repeated)
        unknown = self._repeated - set(self.keys)
        if unknown:
            raise ValueError(f"repeated keys {sorted(unknown)} are not among the keys")
        self._plans: WeakKeyDictionary[Dialect, _Plan] = WeakKeyDictionary()

    def execute(self, connection: Connection, rows: Sequence[Sequence[Any]]) -> int:
        """Run the statement once per row (values in `keys` order) in the connection's
        transaction; returns how many rows it changed in all."""
        if not rows:
            return 0
        plan = self._plan(connection.dialect)
        columns = list(zip(*rows, strict=True))
        bound: list[Sequence[Any]] = []
        for key, values, processor in zip(self.keys, columns, plan.processors, strict=True):
            if processor is None:
                bound.append(values)
            elif key in self._repeated:
                once = {value: processor(value) for value in set(values)}
                bound.append([once[value] for value in values])
            else:
                bound.append([processor(value) for value in values])
        by_key = dict(zip(self.keys, bound, strict=True))
        if plan.positional:
            params: list[Any] = list(zip(*(by_key[name] for name in plan.names), strict=True))
        else:
            params = [dict(zip(self.keys, row, strict=True)) for row in zip(*bound, strict=True)]
        result: CursorResult[Any] = connection.exec_driver_sql(plan.sql, params)
        return result.rowcount

    def _plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect)
        if plan is None:
            # Compiled for exactly these keys, as SQLAlchemy compiles an INSERT for the keys
            # of the rows it is given.
            compiled = self.statement.compile(dialect=dialect, column_keys=list(self.keys))
            binds = compiled.binds
            missing = set(binds) - set(self.keys)
            if missing or set(self.keys) - set(binds):
                raise ValueError(
                    f"keys {sorted(self.keys)} differ from the statement's parameters "
                    f"{sorted(binds)}"
                )
            processors = tuple(
                binds[key].type.dialect_impl(dialect).bind_processor(dialect) for key in self.keys
            )
            positional = bool(dialect.positional)
            names = tuple(compiled.positiontup or ()) if positional else self.keys
            plan = _Plan(compiled.string, names, processors, positional)
            self._plans[dialect] = plan
        return plan
