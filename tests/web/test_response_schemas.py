"""Every API operation's answer is described in /openapi.json (issue #20).

A route that returns a Pydantic model (or declares `response_model`) gets a schema a client can
be generated from; one that returns `dict[str, Any]` shows an empty object. A page, a file
download or a stream is no JSON: it declares its media type (`response_class`, or
`responses=file_answer(...)` with a binary string schema), and 204 has no body.

A new route without one fails here (the debt listed when this test was written is paid).
"""

from __future__ import annotations

from typing import Any

from helppoint.config import Settings
from helppoint.store.database import make_engine
from helppoint.web.app import create_app


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


def declared(media_type: str, schema: dict[str, Any]) -> bool:
    """Whether an answer of this media type is described: JSON by a typed schema; a page, a
    file or a stream (HTML, CSV, a picture …) by its media type (`response_class`)."""
    if media_type == "application/json":
        return typed(schema)
    return True


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
                declared(kind, media.get("schema", {}))
                for answer in answers.values()
                for kind, media in answer.get("content", {}).items()
            )
            if not described:
                untyped.add((method.upper(), path))
    return untyped


def test_every_route_describes_its_answer() -> None:
    assert untyped_operations() == set(), "give these routes a response model"


def test_the_check_tells_an_untyped_answer_from_a_typed_one() -> None:
    assert not typed({"type": "object", "additionalProperties": True})
    assert not typed({"type": "array", "items": {"type": "object"}})
    assert typed({"$ref": "#/components/schemas/TokenView"})
    assert typed({"type": "array", "items": {"$ref": "#/components/schemas/TokenView"}})
    assert typed({"type": "string", "format": "binary"})
    assert declared("text/csv", {})
    assert not declared("application/json", {})
