"""The triage routes over real HTTP: weed out one incident or several, and bad input."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from helppoint.domain.model import Role
from tests.conftest import http_client
from tests.e2e.harness import record_event

PASSWORD = "correct horse battery"


def client(server: Any, username: str, role: Role = Role.OPERATOR) -> httpx.Client:
    http = http_client(server.base_url, timeout=None)
    server.add_operator(username, PASSWORD, role)
    response = http.post("/api/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return http


def open_ids(http: httpx.Client) -> dict[str, int]:
    return {i["unit_id"]: i["id"] for i in http.get("/api/incidents/queue").json()}


def test_weed_out_one_then_the_second_operator_is_told_who_was_faster(live_server: Any) -> None:
    record_event(live_server, "HP-01", 1, datetime.now(UTC))
    alice, bob = client(live_server, "alice"), client(live_server, "bob")
    incident_id = open_ids(alice)["HP-01"]
    path = f"/api/incidents/{incident_id}/weed-out"
    answer = alice.post(path, json={"reason": "false_malicious", "seen_event_count": 1})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["state"] == "closed" and body["classification"] == "false_malicious"
    assert body["acknowledged_by"] == body["closed_by"] == "alice"
    assert "voice" in body and "voice_level" in body  # documented, null until known
    late = bob.post(path, json={"reason": "false_accidental"})
    assert late.status_code == 409
    assert late.json()["detail"] == f"{body['ref']} was already closed by alice"
    assert open_ids(alice) == {}


def test_weed_out_several_reports_each_incident(live_server: Any) -> None:
    now = datetime.now(UTC)
    for n, unit in enumerate(("HP-02", "HP-03", "HP-04"), start=1):
        record_event(live_server, unit, n, now)
    alice, bob = client(live_server, "alice"), client(live_server, "bob")
    ids = open_ids(alice)
    assert bob.post(f"/api/incidents/{ids['HP-03']}/acknowledge").is_success
    answer = alice.post(
        "/api/incidents/weed-out",
        json={
            "incidents": [
                {"id": ids[u], "seen_event_count": 1} for u in ("HP-02", "HP-03", "HP-04")
            ],
            "reason": "false_accidental",
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["closed"] == 2
    assert [(r["incident_id"], r["result"], r["ok"]) for r in body["results"]] == [
        (ids["HP-02"], "closed", True),
        (ids["HP-03"], "held_by_other", False),
        (ids["HP-04"], "closed", True),
    ]
    assert body["results"][1]["incident"] is None and "bob" in body["results"][1]["detail"]
    assert body["results"][0]["incident"]["state"] == "closed"
    assert set(open_ids(alice)) == {"HP-03"}


def test_bad_input_is_refused_and_changes_nothing(live_server: Any) -> None:
    record_event(live_server, "HP-05", 1, datetime.now(UTC))
    alice = client(live_server, "alice")
    incident_id = open_ids(alice)["HP-05"]
    path = f"/api/incidents/{incident_id}/weed-out"
    assert alice.post(path, json={"reason": "imminent_threat"}).status_code == 400
    assert alice.post(path, json={"reason": "aliens"}).status_code == 422
    assert alice.post(path, json={"reason": "false_test", "outcome": "x" * 4001}).status_code == 422
    assert alice.post(path, json={"reason": "false_test", "seen_event_count": 0}).status_code == 422
    assert alice.post(path, json={"reason": "false_test", "extra": 1}).status_code == 422
    assert (
        alice.post("/api/incidents/99999/weed-out", json={"reason": "false_test"}).status_code
        == 404
    )
    bulk = "/api/incidents/weed-out"
    assert alice.post(bulk, json={"incidents": [], "reason": "false_test"}).status_code == 422
    twice = [{"id": incident_id}, {"id": incident_id}]
    assert alice.post(bulk, json={"incidents": twice, "reason": "false_test"}).status_code == 422
    many = [{"id": n} for n in range(1, 102)]
    assert alice.post(bulk, json={"incidents": many, "reason": "false_test"}).status_code == 422
    assert (
        alice.post(bulk, json={"incidents": [{"id": incident_id}], "reason": "medical"}).status_code
        == 400
    )
    auditor = client(live_server, "audrey", Role.AUDITOR)
    assert auditor.post(path, json={"reason": "false_test"}).status_code == 403
    assert open_ids(alice) == {"HP-05": incident_id}
    with live_server.database.uow() as uow:
        # Nothing by an operator (the SLA worker may note a long wait on a loaded machine).
        assert [a.action for a in uow.audit.for_incident(incident_id) if a.actor == "alice"] == []


def test_the_routes_are_documented_with_their_answers(live_server: Any) -> None:
    spec = httpx.get(f"{live_server.base_url}/openapi.json", timeout=None).json()
    one = spec["paths"]["/api/v1/incidents/{incident_id}/weed-out"]["post"]
    ref = one["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/IncidentView")
    several = spec["paths"]["/api/v1/incidents/weed-out"]["post"]
    ref = several["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/BulkWeedOutAnswer")
    assert "voice" in spec["components"]["schemas"]["IncidentView"]["properties"]


def test_open_stills_lists_the_newest_still_of_each_open_incident(live_server: Any) -> None:
    from helppoint.agent.stills import StillSender, TestPatternStills

    now = datetime.now(UTC)
    for unit in ("HP-06", "HP-07"):
        record_event(live_server, unit, 1, now)
    sender = StillSender(
        live_server.base_url, "HP-06", live_server.key("HP-06"), TestPatternStills("HP-06")
    )
    assert sender.send(1) and sender.send(1)  # two stills of one press: the newer counts
    alice = client(live_server, "alice")
    ids = open_ids(alice)
    stills = alice.get("/api/triage/stills")
    assert stills.status_code == 200, stills.text
    [still] = stills.json()
    assert still["incident_id"] == ids["HP-06"] and still["unit_id"] == "HP-06"
    assert still["url"] == f"/api/stills/{still['id']}" and len(still["sha256"]) == 64
    newest = alice.get(f"/api/incidents/{ids['HP-06']}/stills").json()[0]
    assert newest["id"] == still["id"]
    assert alice.post(
        f"/api/incidents/{ids['HP-06']}/weed-out", json={"reason": "false_test"}
    ).is_success
    assert alice.get("/api/triage/stills").json() == []  # closed: no longer a tile
    auditor = client(live_server, "audrey", Role.AUDITOR)
    assert auditor.get("/api/triage/stills").status_code == 403


def test_take_next_move_and_holders(live_server: Any) -> None:
    now = datetime.now(UTC)
    record_event(live_server, "HP-01", 1, now)
    record_event(live_server, "HP-02", 1, now)
    alice, bob = client(live_server, "alice"), client(live_server, "bob")
    sam = client(live_server, "sam", Role.SUPERVISOR)
    ids = open_ids(alice)
    first = alice.post("/api/incidents/take-next")
    assert first.status_code == 200, first.text
    assert first.json()["incident"]["id"] == ids["HP-01"]
    assert first.json()["incident"]["held_by"] == "alice"
    assert bob.post("/api/incidents/take-next").json()["incident"]["id"] == ids["HP-02"]
    assert bob.post("/api/incidents/take-next").json() == {"incident": None}

    path = f"/api/incidents/{ids['HP-01']}/move"
    assert alice.post(path, json={"operator": "bob"}).status_code == 403  # supervisors only
    moved = sam.post(path, json={"operator": "bob"})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["held_by"], moved.json()["acknowledged_by"]) == ("bob", "alice")
    assert sam.post(path, json={"operator": "bob"}).status_code == 400  # already bob's
    assert sam.post(path, json={"operator": "ghost"}).status_code == 400
    assert sam.post(path, json={"operator": ""}).status_code == 422
    assert sam.post(path, json={"operator": "bob", "x": 1}).status_code == 422
    assert sam.post("/api/incidents/999999/move", json={"operator": "bob"}).status_code == 404
    holders = {h["username"]: h["holds"] for h in sam.get("/api/triage/holders").json()}
    assert holders == {"alice": 0, "bob": 2, "sam": 0}
    assert alice.get("/api/triage/holders").status_code == 403
