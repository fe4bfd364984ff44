"""Only repositories touch the database session (issue #20; docs/architecture.md).

A service, route or worker loads and saves through the unit of work's repositories
(`uow.incidents`, `uow.power` ...), never through `uow.session`: the query then has one home,
and the rule beside it can move into domain/ and be tested without a database. The contract
"services import no SQLAlchemy" (pyproject.toml) keeps the imports out; this keeps the session
out. Every repository is in store/, calls' and cameras' too. The unit of work keeps its session
private (`uow._session`); tests that seed rows with raw SQL inside a unit of work may use it,
product code outside store/ may not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import helppoint


def modules_reaching_for_a_session() -> set[str]:
    """Modules outside store/ that read a `.session` or `._session` attribute of anything
    but `self`."""
    root = Path(helppoint.__file__).parent
    found = set()
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root.parent).as_posix()
        if relative.startswith("helppoint/store/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("session", "_session")
                and not (isinstance(node.value, ast.Name) and node.value.id == "self")
            ):
                found.add(relative)
    return found


def test_no_module_outside_the_store_reaches_into_the_session() -> None:
    assert modules_reaching_for_a_session() == set(), "use (or add) a repository on the uow"
