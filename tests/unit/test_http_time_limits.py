"""No test waits on httpx's default 5 s limit for an answer.

A live server's answer can take longer than 5 s on a loaded machine (the first /openapi.json
builds the whole schema; a login hashes with argon2), which is not a failure: a test that
asked through `httpx.get(...)` without `timeout` failed with ReadTimeout when the machine
was busy (seen with tests/web/test_triage_api.py beside the loaded suite). `http_client`
(tests/conftest.py) sets no limit; pytest-timeout stops a test that hangs. Every other
request and client in the tests says its limit.
"""

from __future__ import annotations

from pathlib import Path

from tests.ast_calls import module_calls

TESTS = Path(__file__).resolve().parent.parent
#: httpx's functions and clients that wait for an answer (5 s unless told).
WAITING = {"get", "post", "put", "patch", "delete", "head", "options", "request", "stream"}
WAITING |= {"Client", "AsyncClient"}


def unlimited_waits(source: str) -> list[int]:
    """Lines of calls of httpx's waiting functions and clients that say no `timeout`."""
    return [
        call.lineno
        for call, name in module_calls(source, "httpx")
        if name in WAITING and not any(k.arg in ("timeout", None) for k in call.keywords)
    ]


def test_the_check_finds_a_default_limit_and_passes_a_stated_one() -> None:
    assert unlimited_waits("import httpx\nhttpx.get('u')\nhttpx.Client()\n") == [2, 3]
    assert unlimited_waits("httpx.get('u', timeout=None)\nhttpx.Client(**options)\n") == []


def test_every_request_in_the_tests_states_its_time_limit() -> None:
    found = [
        f"{path.relative_to(TESTS)}:{line}"
        for path in sorted(TESTS.rglob("*.py"))
        for line in unlimited_waits(path.read_text())
    ]
    assert found == [], f"httpx's 5 s default limit (say timeout=None): {found}"
