"""tests/waiting.py: eventually() returns the first truthy answer, or fails saying what."""

from __future__ import annotations

import pytest

from tests.waiting import eventually, eventually_sync


async def test_eventually_returns_the_first_truthy_answer_sync_or_async() -> None:
    answers = iter([0, None, "", 7, 8])
    assert await eventually(lambda: next(answers), every=0) == 7

    async def later() -> str:
        return "done"

    assert await eventually(later) == "done"


async def test_eventually_fails_loudly_naming_what_never_happened() -> None:
    with pytest.raises(AssertionError, match=r"the light going off did not happen within 0\.05 s"):
        await eventually(lambda: False, within=0.05, what="the light going off")


def test_eventually_sync_behaves_the_same() -> None:
    answers = iter([False, [], {"a": 1}])
    assert eventually_sync(lambda: next(answers), every=0) == {"a": 1}
    with pytest.raises(AssertionError, match=r"nothing did not happen within 0\.05 s"):
        eventually_sync(lambda: None, within=0.05, what="nothing")
