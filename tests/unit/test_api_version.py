"""/api/v1/… reaches the routes declared under /api/… (web/api_version.py)."""

from __future__ import annotations

from helppoint.web.api_version import unversioned, versioned, versioned_document


def test_a_v1_path_is_served_by_the_unversioned_route() -> None:
    scope = {"type": "http", "path": "/api/v1/incidents/7", "raw_path": b"/api/v1/incidents/7"}
    changed = unversioned(scope)
    assert (changed["path"], changed["raw_path"]) == ("/api/incidents/7", b"/api/incidents/7")
    assert scope["path"] == "/api/v1/incidents/7"  # the caller's scope is left alone


def test_behind_a_prefix_the_prefix_stays() -> None:
    scope = {"path": "/hp/api/v1/me", "raw_path": b"/hp/api/v1/me", "root_path": "/hp"}
    changed = unversioned(scope)
    assert (changed["path"], changed["raw_path"]) == ("/hp/api/me", b"/hp/api/me")


def test_other_paths_are_unchanged() -> None:
    for path in ("/api/me", "/api/v1", "/api/v10/me", "/x/api/v1/me", "/public/routes.geojson"):
        scope = {"path": path}
        assert unversioned(scope) is scope


def test_the_document_publishes_the_api_under_v1() -> None:
    document = {"paths": {"/api/me": {}, "/public/routes.geojson": {}, "/api/v1/x": {}}}
    assert list(versioned_document(document)["paths"]) == [
        "/api/v1/me",
        "/public/routes.geojson",
        "/api/v1/x",
    ]
    assert versioned("/api/v1/me") == "/api/v1/me"
