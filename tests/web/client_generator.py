"""A small typed Python client generated from helppoint's OpenAPI document (docs/api.md).

Not a product: the proof, in tests/web/test_generated_client.py, that /openapi.json describes
the API well enough to build a typed client from it alone. Every schema of the document
becomes a Pydantic model that refuses keys it does not declare, every /api/v1 operation a
method whose answer is parsed into its declared type — so a server answer the document does
not describe fails the test instead of passing unnoticed.
"""

from __future__ import annotations

import keyword
import re
from typing import Any

HEADER = '''"""Generated from the helppoint OpenAPI document; do not edit."""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
'''

CLIENT = '''

class Client:
    """The helppoint API at `http`'s base URL (authenticate it: Authorization: Bearer TOKEN)."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def _call(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        json: Any = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        query = {k: v for k, v in params.items() if v is not None}
        response = self.http.request(method, path, params=query, json=json, content=content)
        response.raise_for_status()
        return response
'''


def python_name(name: str) -> str:
    """A Python identifier for a schema, property or parameter name."""
    cleaned = re.sub(r"\W", "_", name)
    if cleaned[:1].isdigit():
        cleaned = "_" + cleaned
    return cleaned + "_" if keyword.iskeyword(cleaned) else cleaned


def annotation(schema: dict[str, Any]) -> str:
    """The Python type of a JSON schema."""
    if "$ref" in schema:
        return python_name(schema["$ref"].rsplit("/", 1)[-1])
    if "anyOf" in schema or "oneOf" in schema:
        parts = [annotation(s) for s in schema.get("anyOf", schema.get("oneOf", []))]
        return " | ".join(dict.fromkeys(parts))
    if "const" in schema:
        return f"Literal[{schema['const']!r}]"
    if "enum" in schema:
        return f"Literal[{', '.join(repr(v) for v in schema['enum'])}]"
    kind = schema.get("type")
    if kind == "string":
        return "bytes" if schema.get("format") == "binary" else "str"
    if kind in ("integer", "number", "boolean", "null"):
        return {"integer": "int", "number": "float", "boolean": "bool", "null": "None"}[kind]
    if kind == "array":
        return f"list[{annotation(schema.get('items', {}))}]"
    if kind == "object":
        values = schema.get("additionalProperties", True)
        return f"dict[str, {annotation(values) if isinstance(values, dict) else 'Any'}]"
    return "Any"


def model_source(name: str, schema: dict[str, Any]) -> str:
    """A Pydantic model (or a Literal alias for an enum) for one schema of the document."""
    if "properties" not in schema:
        return f"{python_name(name)} = {annotation(schema)}\n"
    lines = [f"class {python_name(name)}(BaseModel):"]
    lines.append('    model_config = ConfigDict(extra="forbid", populate_by_name=True)')
    required = set(schema.get("required", []))
    for prop, prop_schema in schema["properties"].items():
        field = python_name(prop)
        if field.startswith(("model_", "_")) or field in ("schema", "json", "copy", "dict"):
            field = "field_" + field.lstrip("_")
        kind = annotation(prop_schema)
        options = [f"alias={prop!r}"] if field != prop else []
        if prop not in required:
            kind = kind if "None" in kind.split(" | ") else f"{kind} | None"
            options.insert(0, "default=None")
        if options:
            lines.append(f"    {field}: {kind} = Field({', '.join(options)})")
        else:
            lines.append(f"    {field}: {kind}")
    return "\n".join(lines) + "\n"


def _answer(operation: dict[str, Any]) -> tuple[str, str]:
    """(Python type, how to read it) of an operation's success answer."""
    for code, answer in sorted(operation.get("responses", {}).items()):
        if not code.startswith("2"):
            continue
        if code == "204":
            return "None", "none"
        content = answer.get("content", {})
        files = any(kind != "application/json" for kind in content)
        if "application/json" in content:
            model = annotation(content["application/json"].get("schema", {}))
            # JSON or a file, as a parameter asks (the audit export: format=json or csv).
            return (f"{model} | bytes", "either") if files else (model, "json")
        if files:
            return "bytes", "bytes"
    return "None", "none"


def method_source(path: str, method: str, operation: dict[str, Any]) -> str:
    """One client method: typed parameters in, the typed answer out."""
    name = python_name(operation["operationId"])
    positional, keywords, path_args, query_args = [], [], [], []
    for parameter in operation.get("parameters", []):
        argument = python_name(parameter["name"])
        kind = annotation(parameter.get("schema", {}))
        if parameter["in"] == "path":
            positional.append(f"{argument}: {kind}")
            path_args.append((parameter["name"], argument))
        elif parameter["in"] == "query":
            if parameter.get("required"):
                keywords.append(f"{argument}: {kind}")
            else:
                optional = kind if "None" in kind.split(" | ") else f"{kind} | None"
                keywords.append(f"{argument}: {optional} = None")
            query_args.append((parameter["name"], argument))
    body = ""
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        body_type = annotation(content["application/json"].get("schema", {}))
        keywords.insert(0, f"body: {body_type}")
        dumped = "TypeAdapter(" + body_type + ').dump_python(body, mode="json", by_alias=True)'
        body = f", json={dumped}"
    elif content:
        keywords.insert(0, "content: bytes")
        body = ", content=content"
    answer, read = _answer(operation)
    signature = ", ".join(["self", *positional, *(["*", *keywords] if keywords else [])])
    url = path
    for original, argument in path_args:
        url = url.replace("{" + original + "}", "{" + argument + "}")
    query = "{" + ", ".join(f"{original!r}: {argument}" for original, argument in query_args) + "}"
    summary = operation.get("summary", name).replace('"', "'")
    lines = [
        f"    def {name}({signature}) -> {answer}:",
        f'        """{summary} ({method.upper()} {path})."""',
        f"        response = self._call({method.upper()!r}, f{url!r}, {query}{body})",
    ]
    if read == "json":
        lines.append(f"        return TypeAdapter({answer}).validate_python(response.json())")
    elif read == "either":
        model = answer.removesuffix(" | bytes")
        lines.append('        kind = response.headers.get("content-type", "")')
        lines.append('        if kind.startswith("application/json"):')
        lines.append(f"            return TypeAdapter({model}).validate_python(response.json())")
        lines.append("        return response.content")
    elif read == "bytes":
        lines.append("        return response.content")
    else:
        lines.append("        return None")
    return "\n".join(lines) + "\n"


def generate(document: dict[str, Any], prefix: str = "/api/v1/") -> str:
    """The client module's source: every schema, and a method per operation under `prefix`."""
    schemas = document.get("components", {}).get("schemas", {})
    aliases = [model_source(n, s) for n, s in schemas.items() if "properties" not in s]
    models = [model_source(n, s) for n, s in schemas.items() if "properties" in s]
    methods = [
        method_source(path, method, operation)
        for path, item in document["paths"].items()
        if path.startswith(prefix)
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    rebuild = "".join(
        f"{python_name(n)}.model_rebuild()\n" for n, s in schemas.items() if "properties" in s
    )
    return "\n\n".join([HEADER, *aliases, *models, CLIENT + "\n".join(methods), rebuild])
