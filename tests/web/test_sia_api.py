"""DC-09 event code categories over HTTP: supervisors read, admins choose the handling."""

from __future__ import annotations

from helppoint.domain.model import Role
from tests.web.test_api import client


def test_supervisors_read_and_admins_choose_how_a_category_is_handled(live_server) -> None:  # type: ignore[no-untyped-def]
    supervisor = client(live_server, "sue", Role.SUPERVISOR)
    categories = supervisor.get("/api/sia/categories").json()
    intrusion = next(c for c in categories if c["category"] == "intrusion")
    assert intrusion["handling"] == intrusion["default_handling"] == "incident"
    assert intrusion["priority"] == "activation" and intrusion["changed_by"] is None
    assert "BA" in intrusion["sia_codes"] and "130" in intrusion["contact_id_codes"]
    unmapped = next(c for c in categories if c["category"] == "unmapped")
    assert unmapped["sia_codes"] == [] and unmapped["handling"] == "incident"
    change = {"handling": "supervision"}
    assert supervisor.put("/api/sia/categories/intrusion", json=change).status_code == 403

    admin = client(live_server, "adam", Role.ADMIN)
    changed = admin.put("/api/sia/categories/intrusion", json=change)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["handling"], changed.json()["changed_by"]) == ("supervision", "adam")
    again = supervisor.get("/api/sia/categories").json()
    assert next(c for c in again if c["category"] == "intrusion")["handling"] == "supervision"

    refused = admin.put("/api/sia/categories/open_close", json={"handling": "incident"})
    assert refused.status_code == 400 and "can be handled as log" in refused.json()["detail"]
    assert admin.put("/api/sia/categories/burglary", json=change).status_code == 404
    assert admin.put("/api/sia/categories/intrusion", json={"handling": "x"}).status_code == 422


def test_codes_by_category_and_the_documented_models(live_server) -> None:  # type: ignore[no-untyped-def]
    supervisor = client(live_server, "sue", Role.SUPERVISOR)
    codes = supervisor.get("/api/sia/codes", params={"category": "open_close"}).json()
    assert {
        "table": "sia_dc03",
        "code": "OP",
        "text": "Opening Report",
        "category": "open_close",
    } in codes
    assert any(c["table"] == "contact_id" and c["code"] == "401" for c in codes)
    assert all(c["category"] == "open_close" for c in codes)
    assert supervisor.get("/api/sia/codes", params={"category": "nope"}).status_code == 422
    schema = supervisor.get("/openapi.json").json()
    assert {"SiaCategory", "SiaCode", "HandlingChoice"} <= set(schema["components"]["schemas"])
    assert client(live_server, None).get("/api/sia/categories").status_code == 401
