"""Each topic's declared message shape (helppoint/topics.Publish), and a check of a message
against it: its keys, nested shapes and plain value types."""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import (
    Any,
    Literal,
    NotRequired,
    Union,
    get_args,
    get_origin,
    get_overloads,
    get_type_hints,
    is_typeddict,
)

from helppoint.topics import Publish, Topic


def declared_shapes() -> dict[Topic, tuple[Any, ...]]:
    """Topic -> the TypedDicts its message may be (several for a union), from the overloads."""
    shapes: dict[Topic, tuple[Any, ...]] = {}
    for overload in get_overloads(Publish.__call__):
        hints = get_type_hints(overload)
        [topic] = get_args(hints["topic"])
        assert topic not in shapes, f"{topic} has two overloads"
        shapes[topic] = _alternatives(hints["message"])
    return shapes


def _alternatives(hint: Any) -> tuple[Any, ...]:
    if get_origin(hint) in (Union, types.UnionType):
        return get_args(hint)
    return (hint,)


def mismatches(message: Any, shape: Any, where: str = "message") -> list[str]:
    """What in `message` does not fit the TypedDict `shape` (empty: it fits)."""
    if not isinstance(message, Mapping):
        return [f"{where} is {type(message).__name__}, not an object"]
    hints = get_type_hints(shape)
    # Not __required_keys__: under `from __future__ import annotations` Python 3.11 does not
    # see NotRequired there.
    marked = get_type_hints(shape, include_extras=True)
    required = {key for key, hint in marked.items() if get_origin(hint) is not NotRequired}
    problems = [f"{where} lacks {key!r}" for key in sorted(required - message.keys())]
    problems += [f"{where} has undeclared {key!r}" for key in sorted(message.keys() - hints)]
    for key in sorted(message.keys() & hints.keys()):
        problems += _value_mismatches(message[key], hints[key], f"{where}[{key!r}]")
    return problems


def _value_mismatches(value: Any, hint: Any, where: str) -> list[str]:
    origin = get_origin(hint)
    if hint is Any:
        return []
    if origin in (Union, types.UnionType):
        options = [_value_mismatches(value, option, where) for option in get_args(hint)]
        return [] if any(not o for o in options) else min(options, key=len)
    if hint is type(None):
        return [] if value is None else [f"{where} is {value!r}, not None"]
    if origin is Literal:
        return [] if value in get_args(hint) else [f"{where} is {value!r}, not {hint}"]
    if is_typeddict(hint):
        return mismatches(value, hint, where)
    if origin is list:
        if not isinstance(value, list):
            return [f"{where} is {type(value).__name__}, not a list"]
        [item] = get_args(hint)
        return [p for i, v in enumerate(value) for p in _value_mismatches(v, item, f"{where}[{i}]")]
    if origin is dict:
        return [] if isinstance(value, dict) else [f"{where} is {type(value).__name__}, not dict"]
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{where} is {value!r}, not a number"]
    if hint is int and isinstance(value, bool):
        return [f"{where} is {value!r}, not int"]
    return [] if isinstance(value, hint) else [f"{where} is {value!r}, not {hint.__name__}"]


def check(topic: str, message: Any) -> None:
    """Fail unless `message` has the shape declared for `topic` (one of them, for a union)."""
    shapes = declared_shapes()[Topic(topic)]
    found = [mismatches(message, shape) for shape in shapes]
    assert any(not problems for problems in found), f"{topic}: {min(found, key=len)}"
