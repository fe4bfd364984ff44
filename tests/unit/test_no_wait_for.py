"""Product code waits with a time limit through `asyncio.timeout`, never `asyncio.wait_for`.

On Python 3.11, `asyncio.wait_for` loses a cancel that reaches it in the same turn of the loop
as the end of what it waits for: it returns the result, and the cancelled task goes on. A
worker's loop (wait for a wake-up or the next round) then never stops, and whatever awaits its
stop waits for ever (tests/unit/test_periodic_worker.py has the case). `asyncio.timeout`
keeps the cancel (Python 3.12 rebuilt wait_for on it).
"""

from __future__ import annotations

from pathlib import Path

import helppoint
from tests.ast_calls import module_calls


def _wait_fors(source: str) -> list[int]:
    return [call.lineno for call, name in module_calls(source, "asyncio") if name == "wait_for"]


def test_the_check_finds_a_wait_for() -> None:
    assert _wait_fors("import asyncio\nasync def f(e):\n    await asyncio.wait_for(e, 1)\n") == [3]
    assert (
        _wait_fors(
            "import asyncio\nasync def f(e):\n    async with asyncio.timeout(1):\n        await e\n"
        )
        == []
    )


def test_no_product_module_calls_asyncio_wait_for() -> None:
    root = Path(helppoint.__file__).parent
    offenders = [
        f"{path.relative_to(root.parent)}:{line}"
        for path in sorted(root.rglob("*.py"))
        for line in _wait_fors(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
