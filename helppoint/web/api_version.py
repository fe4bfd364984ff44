"""The public API's version: /api/v1 (docs/api.md).

Each JSON route is declared once, under /api/ — the path the console's own pages use. The API
document (/openapi.json, /docs) lists every one of them under /api/v1/, the path integrations
and generated clients use, and a request to /api/v1/… is served by the route of /api/… (the
same handler, the same permission and CSRF checks: the path is rewritten before anything else
sees the request). The unversioned /api/… is the console's and follows the latest version;
/api/v1/… is what stays stable (docs/api.md says what that promises).
"""

from __future__ import annotations

from typing import Any

from starlette.types import Scope

#: Where the JSON routes are declared, and where version 1 of the API is published.
API_PREFIX = "/api/"
V1_PREFIX = "/api/v1/"


def unversioned(scope: Scope) -> Scope:
    """The scope of a request to /api/v1/… as one to /api/…; any other scope unchanged.

    Behind a proxy that serves the app under a prefix (`root_path`), the path holds it first.
    """
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and not path.startswith(root):
        root = ""
    if not path.startswith(V1_PREFIX, len(root)):
        return scope
    changed = dict(scope)
    changed["path"] = root + API_PREFIX + path[len(root) + len(V1_PREFIX) :]
    raw: bytes | None = scope.get("raw_path")
    at = len(root.encode())
    if raw is not None and raw.startswith(V1_PREFIX.encode(), at):
        changed["raw_path"] = raw[:at] + API_PREFIX.encode() + raw[at + len(V1_PREFIX) :]
    return changed


def versioned_document(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with every /api/… path published as /api/v1/…."""
    document["paths"] = {versioned(path): item for path, item in document["paths"].items()}
    return document


def versioned(path: str) -> str:
    """Where the API document publishes a route's path."""
    if path.startswith(API_PREFIX) and not path.startswith(V1_PREFIX):
        return V1_PREFIX + path[len(API_PREFIX) :]
    return path
