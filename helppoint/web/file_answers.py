"""How a route that answers with a file says so in /openapi.json.

A picture, a recording, a CSV or a PDF is no JSON model: the route declares its media types
with a binary string schema (`responses=file_answer("image/jpeg")`), so the API document
describes the answer and a generated client reads it as bytes.
"""

from __future__ import annotations

from typing import Any


def file_answer(*media_types: str, description: str = "The file") -> dict[int | str, Any]:
    """The `responses` of a route whose 200 answer is a file of one of `media_types`."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {200: {"description": description, "content": {kind: binary for kind in media_types}}}
