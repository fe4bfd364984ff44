"""The OpenAPI API fuzzed with schemathesis under a signed-in session: never a server error.

Every operation of /openapi.json gets a bounded number of generated requests (valid and
invalid data), sent with an administrator's session cookie and CSRF token, so the requests
reach the handlers instead of stopping at the sign-in check.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from helppoint.domain.model import Role
from helppoint.web.deps import SESSION_COOKIE
from helppoint.web.security import csrf_token_for
from tests.conftest import LiveServer, http_client

PASSWORD = "correct horse battery"
#: Generated requests per operation: enough to find crashes on bad input, bounded for CI
#: (HELPPOINT_FUZZ_EXAMPLES asks for more, for a longer hunt: docs/testing.md).
EXAMPLES = int(os.environ.get("HELPPOINT_FUZZ_EXAMPLES", "12"))
#: Operations that would end the fuzzing session itself.
SKIP = {("POST", "/api/v1/logout")}


def _session(server: LiveServer) -> dict[str, str]:
    server.add_operator("fuzzer", PASSWORD, Role.ADMIN)
    http = http_client(server.base_url, timeout=None)
    assert http.post("/api/login", json={"username": "fuzzer", "password": PASSWORD}).is_success
    token = http.cookies[SESSION_COOKIE]
    return {"Cookie": f"{SESSION_COOKIE}={token}", "X-CSRF-Token": csrf_token_for(token)}


def _fuzzer(operation: Any, base_url: str, headers: dict[str, str], failures: list[str]) -> Any:
    """A hypothesis test sending generated requests for one operation; 5xx go to failures."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def fuzz(case: Any) -> None:
        # No limit of its own (pytest-timeout stops a hang): a 30 s one could end a slow but
        # right answer on a loaded machine (a report, the first /openapi.json), which is not
        # what this test looks for.
        response = case.call(base_url=base_url, headers=headers, timeout=None)
        if response.status_code >= 500:  # schemathesis' not_a_server_error check
            failures.append(
                f"{operation.method.upper()} {operation.path} -> {response.status_code}: "
                f"{case.as_curl_command()}"
            )

    return fuzz


@pytest.mark.slow
def test_no_operation_answers_with_a_server_error(live_server_any: LiveServer) -> None:
    live_server = live_server_any  # SQLite and PostgreSQL
    headers = _session(live_server)
    schema = schemathesis.openapi.from_url(f"{live_server.base_url}/openapi.json")
    failures: list[str] = []
    tried = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        tried += 1

        _fuzzer(operation, live_server.base_url, headers, failures)()
    assert tried > 50, "the schema lists fewer operations than the app has"
    assert failures == [], "\n".join(sorted(set(failures)))
