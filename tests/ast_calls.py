"""Finding calls of a module's functions (`module.name(...)`) in source, for the tests that
keep a house rule over the code (tests/unit/test_http_time_limits.py,
tests/unit/test_no_global_random.py, tests/unit/test_no_wait_for.py)."""

from __future__ import annotations

import ast
from collections.abc import Iterator


def module_calls(source: str, module: str) -> Iterator[tuple[ast.Call, str]]:
    """Each call of `module.<name>(...)` in `source`, with the name called."""
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == module
        ):
            yield node, node.func.attr
