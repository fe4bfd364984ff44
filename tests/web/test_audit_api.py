"""The audit trail over HTTP: who may read it, export formats, verify."""

from __future__ import annotations

import csv
import io

from sqlalchemy import text

from helppoint.domain.model import Role
from tests.web.test_api import client


def test_only_auditors_and_admins_read_the_trail(live_server) -> None:  # type: ignore[no-untyped-def]
    operator = client(live_server, "olive", Role.OPERATOR)
    assert operator.get("/api/audit").status_code == 403
    assert operator.get("/api/audit/export").status_code == 403
    assert operator.get("/audit").status_code == 403
    admin = client(live_server, "adam", Role.ADMIN)
    assert admin.get("/api/audit").status_code == 200
    auditor = client(live_server, "audrey", Role.AUDITOR)
    assert auditor.get("/api/incidents/queue").status_code == 403
    home = auditor.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/audit"
    page = auditor.get("/audit")
    assert page.status_code == 200 and "Audit trail" in page.text


def test_auditor_reads_exports_and_verifies(live_server) -> None:  # type: ignore[no-untyped-def]
    auditor = client(live_server, "audrey", Role.AUDITOR)
    trail = auditor.get("/api/audit", params={"action": "user.login"}).json()
    assert trail["total"] >= 1
    login = trail["entries"][0]
    assert login["actor"] == "audrey" and login["address"] == "127.0.0.1"
    assert len(login["hash"]) == 64
    exported = auditor.get("/api/audit/export", params={"format": "csv"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [int(r["seq"]) for r in rows] == sorted(int(r["seq"]) for r in rows)
    as_json = auditor.get("/api/audit/export", params={"format": "json"}).json()
    assert any(e["action"] == "audit.exported" for e in as_json["entries"])
    assert auditor.get("/api/audit/verify").json() == {
        "ok": True,
        "checked": as_json["entries"][-1]["seq"] + 1,
        "problem": None,
    }


def test_verify_names_a_tampered_entry(live_server) -> None:  # type: ignore[no-untyped-def]
    auditor = client(live_server, "audrey", Role.AUDITOR)
    with live_server.database.engine.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET address = '6.6.6.6' WHERE seq = 1"))
    report = auditor.get("/api/audit/verify").json()
    assert report["ok"] is False
    assert report["problem"]["seq"] == 1 and "altered" in report["problem"]["reason"]


def test_bad_filters_are_refused(live_server) -> None:  # type: ignore[no-untyped-def]
    auditor = client(live_server, "audrey", Role.AUDITOR)
    assert auditor.get("/api/audit/export", params={"format": "xml"}).status_code == 422
    assert auditor.get("/api/audit", params={"since": "yesterday"}).status_code == 422
    wrong = auditor.get(
        "/api/audit",
        params={"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
    )
    assert wrong.status_code == 400 and "before" in wrong.json()["detail"]
