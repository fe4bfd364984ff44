"""Trigger plans over HTTP: admin only; invalid plans answer 422 with lines and change nothing."""

from __future__ import annotations

from helppoint.domain.model import Role
from helppoint.services.plans import EXAMPLE_PLAN
from tests.web.test_api import client


def test_only_admins_manage_plans(live_server) -> None:  # type: ignore[no-untyped-def]
    supervisor = client(live_server, "sue", Role.SUPERVISOR)
    assert supervisor.get("/api/plans").status_code == 403
    assert supervisor.put("/api/plans", json={"source": EXAMPLE_PLAN}).status_code == 403
    assert supervisor.get("/admin/plans").status_code == 403
    admin = client(live_server, "adam", Role.ADMIN)
    page = admin.get("/admin/plans")
    assert page.status_code == 200 and "Trigger plans" in page.text


def test_import_check_export_delete(live_server) -> None:  # type: ignore[no-untyped-def]
    admin = client(live_server, "adam", Role.ADMIN)
    example = admin.get("/api/plans/example").text
    assert example == EXAMPLE_PLAN
    checked = admin.post("/api/plans/check", json={"source": example})
    assert checked.json() == {
        "ok": True,
        "scope": "zone",
        "target_id": "town-centre",
        "name": "Town centre trigger plan",
    }
    assert admin.get("/api/plans").json() == []  # checking activates nothing
    saved = admin.put("/api/plans", json={"source": example}).json()
    assert (saved["version"], saved["updated_by"]) == (1, "adam")
    assert saved["police"] == {"urn": "NP-0000-0000", "phone": "101"}
    assert saved["rules"][0]["actions"][0]["ack_within"] == 60
    exported = admin.get("/api/plans/zone/town-centre/export")
    assert exported.text == example
    assert "plan-zone-town-centre.yaml" in exported.headers["content-disposition"]
    assert admin.delete("/api/plans/zone/town-centre").status_code == 204
    assert admin.get("/api/plans/zone/town-centre").status_code == 404
    assert admin.get("/api/plans/region/x").status_code == 400


def test_invalid_plan_answers_422_with_lines_and_changes_nothing(live_server) -> None:  # type: ignore[no-untyped-def]
    admin = client(live_server, "adam", Role.ADMIN)
    admin.put("/api/plans", json={"source": EXAMPLE_PLAN})
    broken = EXAMPLE_PLAN.replace("channel: email", "channel: fax").replace(
        "zone: town-centre", "zone: nowhere"
    )
    answer = admin.put("/api/plans", json={"source": broken})
    assert answer.status_code == 422
    body = answer.json()
    assert {(p["line"], p["where"]) for p in body["problems"]} == {
        (
            broken.splitlines().index("      - notify: site_security") + 2,
            "rules[1].actions[0].channel",
        ),
    }
    assert "unknown value 'fax'" in body["detail"]
    assert admin.get("/api/plans/zone/town-centre").json()["source"] == EXAMPLE_PLAN
    unknown_zone = admin.put(
        "/api/plans", json={"source": EXAMPLE_PLAN.replace("town-centre", "nowhere")}
    )
    assert unknown_zone.status_code == 422
    assert unknown_zone.json()["problems"] == [
        {"line": 4, "where": "zone", "message": "there is no zone 'nowhere'"}
    ]
    assert admin.put("/api/plans", json={"source": ""}).status_code == 422


def test_a_plan_with_a_yaml_alias_cycle_is_refused_with_its_line(live_server) -> None:  # type: ignore[no-untyped-def]
    # It was a server error (500, without the security headers): the reader followed the cycle.
    admin = client(live_server, "adam", Role.ADMIN)
    admin.put("/api/plans", json={"source": EXAMPLE_PLAN})
    cycle = EXAMPLE_PLAN.replace("rules:", "rules: &r [*r]\nunused:", 1)
    for path, method in (("/api/plans/check", admin.post), ("/api/plans", admin.put)):
        answer = method(path, json={"source": cycle})
        assert answer.status_code == 422, path
        assert answer.json()["problems"] == [
            {
                "line": cycle.splitlines().index("rules: &r [*r]") + 1,
                "where": "",
                "message": "aliases (*r) are not allowed in a plan file; write the value out "
                "where it is needed",
            }
        ]
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert admin.get("/api/plans/zone/town-centre").json()["source"] == EXAMPLE_PLAN
