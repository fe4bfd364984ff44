"""A typed client generated from /openapi.json alone works against the real server (issue #20).

tests/web/client_generator.py turns the API document into Pydantic models that refuse any key
the document does not declare, and a method per /api/v1 operation. Here the client signs in
with an administrator's API token (as `helppoint token create` makes), drives an incident
through the JSON API and then makes every read whose parameters it can fill (the unit, the
incident, a month): each must answer, and parse into its declared type. mypy --strict checks
the generated module and code using it (slow: a cold mypy run).
"""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from helppoint.config import Settings
from helppoint.domain.model import Role
from helppoint.services.api_tokens import create_token
from helppoint.store.database import make_engine
from helppoint.web.app import create_app
from tests.conftest import LiveServer
from tests.web.client_generator import generate, python_name
from tests.web.test_api import press

PASSWORD = "correct horse battery"
#: What a path parameter of a read-only operation is filled with (others are left out).
KNOWN = {"unit_id": "HP-01"}
#: Query parameters some reads need (one of several: the report's month), with a value.
QUERY = {"month": "2026-11", "from": "2026-01", "to": "2026-11", "upload": "no-such-upload"}
#: Not a read: the second step of a sign-in, which a token has no part in.
SIGN_IN = "/api/v1/login/2fa/enrolment"


def load(source: str, directory: Path) -> ModuleType:
    path = directory / "helppoint_client.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("helppoint_client", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["helppoint_client"] = module
    spec.loader.exec_module(module)
    return module


def document() -> dict[str, Any]:
    settings = Settings().with_values({"database_url": "sqlite://"})
    engine = make_engine(settings.database_url)
    try:
        return create_app(settings, engine).openapi()
    finally:
        engine.dispose()


def token_for(server: LiveServer, username: str, role: Role) -> str:
    server.add_operator(username, PASSWORD, role)
    with server.database.uow() as uow:
        operator = uow.operators.by_username(username)
    assert operator is not None
    return create_token(server.database.uow(), operator, "generated client").token


def test_a_generated_client_drives_the_api(live_server: LiveServer, tmp_path: Path) -> None:
    spec = httpx.get(f"{live_server.base_url}/openapi.json", timeout=120).json()
    api = load(generate(spec), tmp_path)
    asyncio.run(press(live_server))
    headers = {"Authorization": f"Bearer {token_for(live_server, 'ada', Role.ADMIN)}"}
    with httpx.Client(base_url=live_server.base_url, headers=headers, timeout=None) as http:
        client = api.Client(http)

        # An incident, from the press to closed, through typed calls.
        [incident] = client.queue_api_incidents_queue_get()
        assert isinstance(incident, api.IncidentView)
        assert (incident.unit_id, incident.state) == ("HP-01", "new")
        acknowledged = client.acknowledge_api_incidents__incident_id__acknowledge_post(incident.id)
        assert acknowledged.acknowledged_by == "ada"
        note = client.add_note_api_incidents__incident_id__notes_post(
            incident.id, body=api.NoteBody(text="caller is safe")
        )
        assert isinstance(note, api.NoteView) and note.author == "ada"
        closed = client.close_api_incidents__incident_id__close_post(
            incident.id, body=api.CloseBody(outcome="no one there", classification="false_test")
        )
        assert closed.state == "closed" and closed.classification == "false_test"
        detail = client.incident_api_incidents__incident_id__get(incident.id)
        assert [n.text for n in detail.notes] == ["caller is safe"]
        assert detail.events[0].type == "activation"
        page = client.history_api_incidents_get(unit_id="HP-01")
        assert page.total == 1 and page.items[0].ref == incident.ref

        # Every other read it can make: each answer parses into its declared type.
        read = 0
        for path, item in spec["paths"].items():
            operation = item.get("get")
            if operation is None or not path.startswith("/api/v1/") or path == SIGN_IN:
                continue
            names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
            known = KNOWN | {"incident_id": incident.id}
            if not set(names) <= known.keys():
                continue
            query = {
                python_name(p["name"]): QUERY[p["name"]]
                for p in operation.get("parameters", [])
                if p["in"] == "query" and (p.get("required") or p["name"] in QUERY)
            }
            method = getattr(client, operation["operationId"])
            method(*(known[n] for n in names), **query)  # raises on an error answer
            read += 1
        assert read > 40


@pytest.mark.slow
def test_the_generated_client_is_well_typed(tmp_path: Path) -> None:
    (tmp_path / "helppoint_client.py").write_text(generate(document()))
    (tmp_path / "use_client.py").write_text(
        "from typing_extensions import assert_type\n"
        "import httpx\n"
        "from helppoint_client import Client, IncidentView, NoteBody, NoteView\n\n"
        "def use(client: Client) -> str:\n"
        "    queue = client.queue_api_incidents_queue_get()\n"
        "    assert_type(queue, list[IncidentView])\n"
        "    note = client.add_note_api_incidents__incident_id__notes_post(\n"
        "        queue[0].id, body=NoteBody(text='on my way')\n"
        "    )\n"
        "    assert_type(note, NoteView)\n"
        "    return queue[0].ref + note.text\n\n"
        "use(Client(httpx.Client()))\n"
    )
    (tmp_path / "mypy.ini").write_text("[mypy]\nstrict = True\nplugins = pydantic.mypy\n")
    checked = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--no-incremental",
            "--config-file=mypy.ini",
            "helppoint_client.py",
            "use_client.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
