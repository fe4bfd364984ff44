"""The fast tier's rules (tests/conftest.py) name only what exists, and mark what they say."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SLOW_MODULES

ROOT = Path(__file__).resolve().parents[2]


def test_every_slow_module_exists() -> None:
    assert sorted(m for m in SLOW_MODULES if not (ROOT / m).is_file()) == []


def test_a_plain_test_is_not_slow(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("slow") is None


@pytest.mark.postgres
def test_this_test_is_slow_because_it_is_marked_postgres(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("slow") is not None
