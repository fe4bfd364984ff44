"""Only repositories touch the database session (issue #20; docs/architecture.md).

A service, route or worker loads and saves through the unit of work's repositories
(`uow.incidents`, `uow.power` ...), never through `uow.session`: the query then has one home,
and the rule beside it can move into domain/ and be tested without a database. The contract
"services import no SQLAlchemy" (pyproject.toml) keeps the imports out; this keeps the session
out. Repositories outside store/ (calls/repository.py, cameras/repository.py) use their own
`self.session`.

STILL_REACHING_IN is the debt: modules that still use `uow.session`. A new one fails here, and
so does an entry that no longer does (take it off the list), so the list only shrinks. When it
is empty the unit of work can stop exposing its session.
"""

from __future__ import annotations

import ast
from pathlib import Path

import helppoint

STILL_REACHING_IN = frozenset({"helppoint/services/reports.py"})


def modules_reaching_for_a_session() -> set[str]:
    """Modules outside store/ that read a `.session` attribute of anything but `self`."""
    root = Path(helppoint.__file__).parent
    found = set()
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root.parent).as_posix()
        if relative.startswith("helppoint/store/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "session"
                and not (isinstance(node.value, ast.Name) and node.value.id == "self")
            ):
                found.add(relative)
    return found


def test_only_the_listed_modules_reach_into_the_session() -> None:
    found = modules_reaching_for_a_session()
    assert found - STILL_REACHING_IN == set(), "use (or add) a repository on the unit of work"
    assert STILL_REACHING_IN - found == set(), "no longer reaches in: take it off the list"
