"""Every third-party module the package imports is a declared runtime dependency.

A module that is only in the test extras works in the test venv and breaks `pip install .`.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


#: Scripts that run under Debian's own Python, never in helppoint's venv, and what they may
#: import from Debian's packages (GStreamer's bindings come from python3-gi).
SYSTEM_PYTHON_SCRIPTS = {Path("cameras/rtsp_source.py"): {"gi"}}


def imported_top_level_modules() -> set[str]:
    modules: set[str] = set()
    for path in (ROOT / "helppoint").rglob("*.py"):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
        modules |= found - SYSTEM_PYTHON_SCRIPTS.get(path.relative_to(ROOT / "helppoint"), set())
    return modules - set(sys.stdlib_module_names) - {"helppoint", "__future__"}


def test_runtime_imports_are_declared_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {
        _normalise(re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0])
        for spec in project["dependencies"]
    }
    distributions = packages_distributions()
    # Pulled in by a declared dependency, and imported deliberately through it.
    provided_by = {"starlette": "fastapi", "xstatic": "xstatic-leaflet"}
    missing = {}
    for module in sorted(imported_top_level_modules()):
        if module in provided_by:
            assert provided_by[module] in declared
            continue
        names = {_normalise(d) for d in distributions.get(module, [module])}
        if not names & declared:
            missing[module] = sorted(names)
    assert missing == {}, f"imported but not in [project] dependencies: {missing}"
