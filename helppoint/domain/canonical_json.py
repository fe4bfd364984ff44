"""Sorted-key compact JSON, byte for byte as the standard library writes it, at orjson's speed.

Event digests and the audit trail's hashes are computed over JSON text, so that text must
never change: it is what `json` writes with `sort_keys=True, separators=(",", ":")`. The
event writer encodes every event it stores this way, and the standard library's encoder is
its largest single cost. orjson writes the same text ten times faster for the values events
and audit details hold (dicts with string keys, lists, strings, ints, booleans, None): it is
used for exactly those, checked first; anything else (floats, whose exponent it writes
differently, other types, huge ints) goes to the standard library, as does non-ASCII text
where `\\uXXXX` escapes are wanted.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_ASCII = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
_UNICODE = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
#: orjson refuses ints beyond 64 bits; the standard library writes them.
_INT_RANGE = range(-(2**63), 2**64)


def canonical_json(value: Any, ascii_only: bool = True) -> str:
    """`value` as sorted-key compact JSON; non-ASCII escaped (`\\uXXXX`) if `ascii_only`,
    else written as is (and NaN or infinity refused)."""
    if _plain(value):
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        if not ascii_only or text.isascii():
            return text
    return (_ASCII if ascii_only else _UNICODE).encode(value)


def canonical_json_of_strings(value: dict[str, Any]) -> bytes | None:
    """`canonical_json(value)`, encoded, for a value known to hold only strings, booleans,
    None and dicts of them with string keys (which orjson writes as the standard library
    does), without checking each value first; None if the text is not ASCII (then use
    canonical_json, which escapes it)."""
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return text if text.isascii() else None


def _plain(value: Any) -> bool:
    """Whether orjson writes `value` exactly as the standard library does."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return value in _INT_RANGE
    # Loops, not all() over generators: events' payloads are checked for every event stored.
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return False
            if type(item) is not str and not _plain(item):
                return False
        return True
    if kind is list:
        for item in value:  # noqa: SIM110 (a loop: all() over a generator is slower)
            if type(item) is not str and not _plain(item):
                return False
        return True
    return False  # floats, tuples, enums, other types: the standard library decides
