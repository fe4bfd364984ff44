"""Reading a device-link frame's JSON text: bounded nesting, and only values every store holds.

`json.loads` alone lets through what later breaks far from the socket: nesting deep enough to
exhaust the interpreter's stack (a RecursionError before the unit is even authenticated),
lone surrogates (`"\\ud800"`) that no UTF-8 encoder writes, NUL characters that PostgreSQL
text refuses, NaN and infinities that are not JSON, and integers too long to convert. An
event holding one of them failed in the writer, again on every resend, so every later press
of its unit waited behind it for ever (issue 17). Here the nesting is bounded before
parsing, and everything else is *repaired* — replaced by a value that stores everywhere —
with a note of what was changed: a press with a garbled extra field is still a press.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: The deepest nesting of objects and arrays a frame may have (the frame itself is level 1;
#: the agent's deepest, a self-test's measurements, is level 4).
MAX_DEPTH = 32
#: A string literal, and anything but a bracket: left out when nesting is measured.
_NOT_BRACKETS = re.compile(r'"(?:[^"\\]++|\\.)*+"|[^"\[\]{}]++', re.DOTALL)
#: An array or object holding no other (once everything but brackets is left out).
_INNERMOST = re.compile(r"\[\]|\{\}")
_SURROGATE = re.compile("[\ud800-\udfff]")


class _NotFinite(ValueError):
    """A number JSON cannot hold (NaN, an infinity, or beyond a double): take the slow path."""


def _finite(literal: str) -> float:
    value = float(literal)
    if value - value != 0:  # inf - inf and nan - nan are nan
        raise _NotFinite(literal)
    return value


def _not_finite(literal: str) -> float:
    raise _NotFinite(literal)


#: Made once (`json.loads` with any option builds a decoder on every call). Numbers JSON cannot
#: hold make it give up, so that the repairs below are needed only when a frame has one.
_DECODER = json.JSONDecoder(strict=False, parse_float=_finite, parse_constant=_not_finite)


class TooDeep(ValueError):
    """The frame nests objects and arrays deeper than MAX_DEPTH."""


def nesting_depth_exceeds(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether `text` nests objects/arrays deeper than `limit` (brackets in strings aside).

    Each pass of a regular expression takes away the innermost level: a few passes over the
    text at C speed, never a recursion.
    """
    if text.count("{") + text.count("[") <= limit:
        return False  # the usual frame: too few brackets to be that deep
    brackets = _NOT_BRACKETS.sub("", text)
    levels = 0
    while True:
        brackets, removed = _INNERMOST.subn("", brackets)
        if not removed:
            break
        levels += 1
        if levels > limit:
            return True
    # Valid JSON leaves nothing; what is left (unbalanced, or cut off by an unterminated
    # string) is counted as if every opening bracket nested, as the parser would go into it.
    return levels + brackets.count("[") + brackets.count("{") > limit


def read_json(text: str) -> tuple[Any, list[str]]:
    """The JSON value in `text`, repaired to store everywhere, and what was repaired.

    TooDeep if nested deeper than MAX_DEPTH; json.JSONDecodeError if it is not JSON. Raw
    control characters inside strings are accepted (and NUL repaired).
    """
    if nesting_depth_exceeds(text):
        raise TooDeep(f"frame is nested deeper than {MAX_DEPTH} levels")
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError:
        raise
    except ValueError:  # a number JSON cannot hold, or an integer too long to convert
        notes: set[str] = set()
        value = _decode_numbers(text, notes)
    else:
        if "\\" not in text and "\x00" not in text:
            return value, _NOTHING  # no string can hold a surrogate or a NUL: the usual frame
        notes = set()
    return _repair(value, notes), sorted(notes)


#: What read_json repaired in a frame it did not need to repair.
_NOTHING: list[str] = []


def _decode_numbers(text: str, notes: set[str]) -> Any:
    """Decode `text` repairing its numbers: NaN, infinities and overflows become null,
    integers too long to convert stay their digits."""

    def number(literal: str) -> float | None:
        value = float(literal)
        if value - value == 0:
            return value
        notes.add("a number JSON cannot hold (NaN or an infinity) was replaced by null")
        return None

    def constant(literal: str) -> None:
        notes.add("a number JSON cannot hold (NaN or an infinity) was replaced by null")
        return None

    def integer(digits: str) -> int | str:
        try:
            return int(digits)
        except ValueError:
            notes.add("an integer too long to read was kept as text")
            return digits

    decoder = json.JSONDecoder(
        strict=False, parse_float=number, parse_constant=constant, parse_int=integer
    )
    return decoder.decode(text)


def _repair(value: Any, notes: set[str]) -> Any:
    kind = type(value)
    if kind is str:
        return _text(value, notes)
    if kind is dict:
        return {_text(key, notes): _repair(item, notes) for key, item in value.items()}
    if kind is list:
        return [_repair(item, notes) for item in value]
    return value


def _text(text: str, notes: set[str]) -> str:
    if "\x00" in text:
        notes.add("NUL characters were replaced by U+FFFD")
        text = text.replace("\x00", "\ufffd")
    if not text.isascii() and _SURROGATE.search(text) is not None:
        notes.add("lone surrogates (not Unicode text) were replaced by U+FFFD")
        text = _SURROGATE.sub("\ufffd", text)
    return text
