"""canonical_json writes what the standard library writes, byte for byte, whatever the value;
JSON columns read back what json.dumps would have stored."""

from __future__ import annotations

import enum
import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helppoint.domain.canonical_json import canonical_json
from helppoint.store.database import json_text

ASCII = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
UNICODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(values)
def test_the_same_text_as_the_standard_library(value: Any) -> None:
    assert canonical_json(value) == ASCII.encode(value)
    assert canonical_json(value, ascii_only=False) == UNICODE.encode(value)


class Kind(enum.StrEnum):
    PANIC = "panic"


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": [1e16, 1e-7, 0.1, -0.0]},  # exponents orjson writes its own way
        {"kind": Kind.PANIC, "t": ("a", 1)},  # str subclasses and tuples
        {"n": 2**64, "m": -(2**63) - 1},  # beyond orjson's 64 bits
        {"é": "ünï ✓", "z": None, "y": True},
    ],
)
def test_values_orjson_would_write_differently(value: Any) -> None:
    assert canonical_json(value) == ASCII.encode(value)
    assert canonical_json(value, ascii_only=False) == UNICODE.encode(value)


def test_the_audit_form_refuses_nan_as_before() -> None:
    with pytest.raises(ValueError):
        canonical_json({"x": math.nan}, ascii_only=False)


@given(values)
def test_json_columns_read_back_what_json_dumps_stored(value: Any) -> None:
    assert json.loads(json_text(value)) == json.loads(json.dumps(value))


def test_json_columns_keep_the_standard_librarys_answers_to_odd_values() -> None:
    assert json_text({"x": math.nan}) == json.dumps({"x": math.nan})  # stored as before
    assert json_text({1: "a"}) == json.dumps({1: "a"})
    with pytest.raises(TypeError):
        json_text({"at": datetime(2026, 12, 2, tzinfo=UTC)})  # refused, as before
    assert json.loads(json_text({"kind": Kind.PANIC})) == {"kind": "panic"}
