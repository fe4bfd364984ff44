"""Every API operation's answer is described in /openapi.json (issue #20).

A route that returns a Pydantic model (or declares `response_model`) gets a schema a client can
be generated from; one that returns `dict[str, Any]` shows an empty object. A file download
declares its media type with a binary string schema (`responses=...`), and 204 has no body.

UNTYPED is the debt when this test was written: routes that still answer without a schema.
A new route without one fails here, and so does an entry of UNTYPED once its route is typed
(take it off the list), so the list only shrinks.
"""

from __future__ import annotations

from typing import Any

from helppoint.config import Settings
from helppoint.store.database import make_engine
from helppoint.web.app import create_app

UNTYPED = frozenset(
    {
        ("PUT", "/api/admin/prompts/{name}"),
        ("GET", "/api/admin/security"),
        ("POST", "/api/admin/units/{unit_id}/revoke"),
        ("POST", "/api/admin/units/{unit_id}/rotate-key"),
        ("GET", "/api/audit"),
        ("GET", "/api/audit/export"),
        ("GET", "/api/audit/verify"),
        ("GET", "/api/clips/{clip_id}/export"),
        ("GET", "/api/clips/{clip_id}/media"),
        ("POST", "/api/evaluation"),
        ("POST", "/api/evaluation/crime-files"),
        ("GET", "/api/evaluation/latest"),
        ("GET", "/api/evaluation/months"),
        ("GET", "/api/health/units"),
        ("GET", "/api/incidents"),
        ("GET", "/api/incidents/queue"),
        ("GET", "/api/incidents/{incident_id}"),
        ("POST", "/api/incidents/{incident_id}/acknowledge"),
        ("GET", "/api/incidents/{incident_id}/call"),
        ("POST", "/api/incidents/{incident_id}/call"),
        ("POST", "/api/incidents/{incident_id}/call/hangup"),
        ("GET", "/api/incidents/{incident_id}/checklist"),
        ("POST", "/api/incidents/{incident_id}/classify"),
        ("POST", "/api/incidents/{incident_id}/close"),
        ("POST", "/api/incidents/{incident_id}/escalate"),
        ("POST", "/api/incidents/{incident_id}/notes"),
        ("GET", "/api/incidents/{incident_id}/notifications"),
        ("POST", "/api/incidents/{incident_id}/police-called"),
        ("POST", "/api/incidents/{incident_id}/police-on-scene"),
        ("GET", "/api/incidents/{incident_id}/stills"),
        ("GET", "/api/incidents/{incident_id}/unit-media"),
        ("POST", "/api/login/2fa"),
        ("GET", "/api/maintainers"),
        ("POST", "/api/maintainers"),
        ("GET", "/api/maintenance/tickets"),
        ("POST", "/api/maintenance/tickets/{ticket_id}/assign"),
        ("POST", "/api/maintenance/tickets/{ticket_id}/fixed"),
        ("POST", "/api/maintenance/tickets/{ticket_id}/verify"),
        ("GET", "/api/plans"),
        ("PUT", "/api/plans"),
        ("POST", "/api/plans/check"),
        ("GET", "/api/plans/example"),
        ("GET", "/api/plans/{scope}/{target_id}"),
        ("GET", "/api/plans/{scope}/{target_id}/export"),
        ("GET", "/api/police/incidents"),
        ("POST", "/api/police/incidents/{incident_id}/acknowledge"),
        ("GET", "/api/prompts"),
        ("GET", "/api/recordings/{recording_id}/export"),
        ("POST", "/api/recordings/{recording_id}/hold"),
        ("GET", "/api/recordings/{recording_id}/media"),
        ("POST", "/api/recordings/{recording_id}/release"),
        ("GET", "/api/reports/interventions"),
        ("POST", "/api/reports/interventions"),
        ("GET", "/api/reports/monthly"),
        ("GET", "/api/reports/monthly.csv"),
        ("GET", "/api/reports/monthly.pdf"),
        ("GET", "/api/reports/open-data.csv"),
        ("GET", "/api/reports/settings"),
        ("PUT", "/api/reports/settings"),
        ("GET", "/api/reports/survey"),
        ("GET", "/api/reports/survey.csv"),
        ("GET", "/api/routes"),
        ("POST", "/api/routes"),
        ("PUT", "/api/routes/{route_id}"),
        ("GET", "/api/self-tests/schedules"),
        ("PUT", "/api/self-tests/schedules"),
        ("GET", "/api/sla"),
        ("GET", "/api/stills/{still_id}"),
        ("POST", "/api/stills/{still_id}/hold"),
        ("POST", "/api/stills/{still_id}/release"),
        ("GET", "/api/units"),
        ("GET", "/api/units/{unit_id}/config"),
        ("POST", "/api/units/{unit_id}/configure"),
        ("GET", "/api/units/{unit_id}/prompts/{name}"),
        ("POST", "/api/units/{unit_id}/self-test"),
        ("GET", "/api/units/{unit_id}/self-tests"),
        ("GET", "/api/units/{unit_id}/settings"),
        ("POST", "/api/units/{unit_id}/stills"),
        ("PUT", "/api/units/{unit_id}/supervision"),
        ("GET", "/public/help-points.geojson"),
        ("GET", "/public/routes.geojson"),
    }
)


def typed(schema: dict[str, Any]) -> bool:
    """Whether a schema says what the answer holds (not just "an object" or "anything")."""
    if "$ref" in schema or schema.get("properties"):
        return True
    if "anyOf" in schema:
        return all(typed(s) or s.get("type") == "null" for s in schema["anyOf"])
    kind = schema.get("type")
    if kind == "array":
        return typed(schema.get("items", {}))
    if kind == "object":
        values = schema.get("additionalProperties")
        return isinstance(values, dict) and typed(values)
    return kind in ("string", "integer", "number", "boolean")


def untyped_operations() -> set[tuple[str, str]]:
    """(METHOD, path) of every operation whose success answer has no schema."""
    settings = Settings().with_values({"database_url": "sqlite://"})
    engine = make_engine(settings.database_url)
    try:
        document = create_app(settings, engine).openapi()
    finally:
        engine.dispose()
    untyped = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            answers = {
                code: answer
                for code, answer in operation.get("responses", {}).items()
                if code.startswith("2")
            }
            described = "204" in answers or any(
                typed(media.get("schema", {}))
                for answer in answers.values()
                for media in answer.get("content", {}).values()
            )
            if not described:
                untyped.add((method.upper(), path))
    return untyped


def test_every_new_route_describes_its_answer() -> None:
    untyped = untyped_operations()
    assert untyped - UNTYPED == set(), "give these routes a response model"
    assert UNTYPED - untyped == set(), "these routes are typed now: take them off UNTYPED"


def test_the_check_tells_an_untyped_answer_from_a_typed_one() -> None:
    assert not typed({"type": "object", "additionalProperties": True})
    assert not typed({"type": "array", "items": {"type": "object"}})
    assert typed({"$ref": "#/components/schemas/TokenView"})
    assert typed({"type": "array", "items": {"$ref": "#/components/schemas/TokenView"}})
    assert typed({"type": "string", "format": "binary"})
