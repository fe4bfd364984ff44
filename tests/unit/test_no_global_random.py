"""Product code never draws from the module-level `random` generator.

Tests seed that generator (Hypothesis among them, and warns when it changes while it draws); a
server thread drawing from it in the background makes a test's draws depend on timing. Each
module that needs randomness keeps its own `random.Random()`.
"""

from __future__ import annotations

import random
from pathlib import Path

import helppoint
from tests.ast_calls import module_calls

_GLOBAL_DRAWS = {
    name
    for name in dir(random)
    if not name.startswith("_")
    and callable(getattr(random, name))
    and name not in {"Random", "SystemRandom"}
}


def _global_draws(source: str) -> list[tuple[int, str]]:
    return [
        (call.lineno, name)
        for call, name in module_calls(source, "random")
        if name in _GLOBAL_DRAWS
    ]


def test_the_check_finds_a_global_draw() -> None:
    assert _global_draws("import random\nx = random.uniform(0, 1)\n") == [(2, "uniform")]
    assert _global_draws("import random\nr = random.Random()\nx = r.uniform(0, 1)\n") == []


def test_no_product_module_draws_from_the_global_generator() -> None:
    root = Path(helppoint.__file__).parent
    offenders = [
        f"{path.relative_to(root.parent)}:{line} random.{name}"
        for path in sorted(root.rglob("*.py"))
        for line, name in _global_draws(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
