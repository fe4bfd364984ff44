"""Every route and every role: what must be refused is refused (from access_table.ACCESS).

Adding a route without an entry in access_table.py fails here, naming the route.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta
from typing import Any

import httpx
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from helppoint.domain.model import ROLE_PERMISSIONS, Role
from helppoint.services import operators as operator_service
from helppoint.web.deps import SESSION_COOKIE
from helppoint.web.security import csrf_token_for
from tests.conftest import LiveServer

from .access_table import ACCESS, PUBLIC, SIGNED_IN, TOKEN, UNIT_KEY, Access

PASSWORD = "correct horse battery"
ANONYMOUS = "anonymous"
WHO: list[Role | str] = [*Role, ANONYMOUS]
#: Values for path parameters: things that do not exist, so allowed requests change nothing.
PARAMS = {
    "unit_id": "HP-01",
    "scope": "zone",
    "target_id": "no-such-zone",
    "username": "no-such-user",
    "role": "operator",
}


def app_routes(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every route the app serves, incl. WebSocket routes and mounts."""
    found: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path or getattr(route, "path", "")
        if isinstance(route, Mount):
            found.add(("MOUNT", path))
        elif "WebSocket" in type(route).__name__:
            found.add(("WS", path))
        else:
            found.update((m, path) for m in (context.methods or ()) if m != "HEAD")
    return sorted(found)


def allowed(access: Access, who: Role | str) -> bool:
    if access == PUBLIC:
        return True
    if who == ANONYMOUS or access in (UNIT_KEY, TOKEN):
        return False
    if access == SIGNED_IN:
        return True
    assert isinstance(who, Role)
    if isinstance(access, frozenset):
        return bool(access & ROLE_PERMISSIONS[who])
    return access in ROLE_PERMISSIONS[who]


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: PARAMS.get(m.group(1), "999999"), path)


def refused(response: httpx.Response) -> bool:
    if response.status_code in (401, 403):
        return True
    location = response.headers.get("location", "")
    return response.is_redirect and location.startswith("/login")


def test_every_route_has_an_entry(live_server: LiveServer) -> None:
    routes = set(app_routes(live_server.app))
    missing = sorted(routes - ACCESS.keys())
    stale = sorted(ACCESS.keys() - routes)
    message = "".join(
        f"\n  route {m} {p} has no entry in tests/security/access_table.py ACCESS: "
        f"add ({m!r}, {p!r}): PUBLIC, SIGNED_IN, UNIT_KEY or the Permission it needs"
        for m, p in missing
    ) + "".join(
        f"\n  ACCESS entry ({m!r}, {p!r}) names no route of the app: remove or fix it"
        for m, p in stale
    )
    assert not missing and not stale, message


def sessions(server: LiveServer, count: int) -> dict[Role, list[str]]:
    """`count` fresh session tokens per role (a request may sign its session out)."""
    tokens: dict[Role, list[str]] = {}
    for role in Role:
        server.add_operator(f"matrix-{role.value}", PASSWORD, role)
    with server.database.uow() as uow:
        for role in Role:
            operator = uow.operators.by_username(f"matrix-{role.value}")
            assert operator is not None
            tokens[role] = [
                operator_service.open_session(uow, operator, timedelta(hours=1), None)
                for _ in range(count)
            ]
        uow.commit()
    return tokens


def http_request(client: httpx.Client, method: str, path: str, token: str | None) -> httpx.Response:
    headers = {"Accept": "application/json"}
    if token:
        headers["Cookie"] = f"{SESSION_COOKIE}={token}"
        headers["X-CSRF-Token"] = csrf_token_for(token)
    client.cookies.clear()
    body = {} if method in ("POST", "PUT", "PATCH") else None
    return client.request(
        method, concrete(path), headers=headers, json=body, follow_redirects=False
    )


async def ws_outcome(server: LiveServer, path: str, token: str | None) -> str:
    """'open' if the socket was accepted and spoke, else 'refused (code)'."""
    url = f"ws://127.0.0.1:{server.port}{concrete(path)}"
    headers = {"Cookie": f"{SESSION_COOKIE}={token}"} if token else {}
    try:
        async with connect(url, additional_headers=headers, open_timeout=10) as ws:
            if path == "/device/v1":  # a browser session is no unit key
                hello = {"type": "hello", "protocol": 1, "unit": "HP-01", "key": "not-the-key"}
                await ws.send(json.dumps(hello))
            await asyncio.wait_for(ws.recv(), 10)
            return "open"
    except ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd else None
        return f"refused ({code})"
    except InvalidStatus as exc:
        return f"refused (HTTP {exc.response.status_code})"


def test_every_role_is_refused_where_the_table_says(live_server: LiveServer) -> None:
    routes = [r for r in app_routes(live_server.app) if r in ACCESS]
    tokens = sessions(live_server, len(routes))
    wrong: list[str] = []
    with httpx.Client(base_url=live_server.base_url, timeout=None) as client:
        for index, (method, path) in enumerate(routes):
            access = ACCESS[(method, path)]
            if method == "MOUNT":
                continue
            for who in WHO:
                token = tokens[who][index] if isinstance(who, Role) else None
                if method == "WS":
                    outcome = asyncio.run(ws_outcome(live_server, path, token))
                    was_refused = outcome != "open"
                    shown = outcome
                else:
                    response = http_request(client, method, path, token)
                    assert response.status_code < 500, f"{method} {path} as {who}: {response.text}"
                    was_refused = refused(response)
                    shown = f"HTTP {response.status_code}"
                must_refuse = not allowed(access, who)
                if access == PUBLIC:
                    continue  # anyone may: whatever it answers is not a refusal by role
                if was_refused != must_refuse:
                    expected = "refused" if must_refuse else "allowed"
                    wrong.append(f"{method} {path} as {who}: expected {expected}, got {shown}")
    assert wrong == [], "\n".join(wrong)
