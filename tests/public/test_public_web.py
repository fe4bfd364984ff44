"""Public pages over HTTP: no sign-in, the right facts, safer routes, and no private data."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import segno

from helppoint.domain.classification import Classification
from helppoint.domain.events import EventType
from helppoint.domain.model import Role
from helppoint.services import incidents as incident_service
from helppoint.services.ingest import ReportedEvent, handle_device_events
from tests.conftest import http_client
from tests.web.test_api import client

ROUTE = {
    "name": "Racecourse lit path",
    "description": "Lit all night, watched by CCTV",
    "geometry": {
        "type": "LineString",
        "coordinates": [[-0.88414, 52.24682], [-0.88803, 52.24881], [-0.89566, 52.25218]],
    },
}


def public(server) -> httpx.Client:  # type: ignore[no-untyped-def]
    return http_client(server.base_url, timeout=None)


def heard(server, *unit_ids: str) -> None:  # type: ignore[no-untyped-def]
    """Mark units as heard from: until then they are "not yet in service"."""
    uow = server.database.uow()
    with uow:
        uow.units.touch(list(unit_ids), datetime.now(UTC))
        uow.commit()


def test_map_page_lists_every_unit_and_route_without_sign_in(live_server) -> None:  # type: ignore[no-untyped-def]
    admin = client(live_server, "adam", Role.ADMIN)
    assert admin.post("/api/routes", json=ROUTE).status_code == 201
    page = public(live_server).get("/help-points")
    assert page.status_code == 200
    assert page.headers["cache-control"].startswith("public")
    for unit_id in [f"HP-0{i}" for i in range(1, 9)]:
        assert f'href="/p/{unit_id}"' in page.text
    assert "Market Square" in page.text and "Racecourse lit path" in page.text
    assert 'call <a href="tel:999">999</a>' in page.text


def test_unit_page_says_where_what_happens_and_999(live_server) -> None:  # type: ignore[no-untyped-def]
    http = public(live_server)
    assert "This help point is not yet in service." in http.get("/p/HP-05").text
    heard(live_server, "HP-05")
    page = http.get("/p/HP-05")
    assert page.status_code == 200
    text = page.text
    assert "<h1>Market Square</h1>" in text
    assert "North side of the Market Square, by the taxi rank" in text
    assert "What happens when you press the button" in text
    assert "blue light" in text and "camera" in text
    assert "microphone is open to the control room" in text  # press-time audio (docs/triage.md)
    assert "In an emergency call" in text and 'href="tel:999"' in text
    assert "This help point is in service." in text
    assert f"{live_server.base_url}/p/HP-05" in text
    lower = http.get("/p/hp-05", follow_redirects=False)
    assert lower.status_code == 308 and lower.headers["location"] == "/p/HP-05"
    missing = http.get("/p/HP-99<b>")
    assert missing.status_code == 404
    assert "Help point not found" in missing.text and "HP-99&lt;b&gt;" in missing.text


def test_out_of_service_units_say_so(live_server) -> None:  # type: ignore[no-untyped-def]
    heard(live_server, "HP-04")
    uow = live_server.database.uow()
    with uow:
        unit = uow.units.get("HP-03")
        # Last heard an hour ago: supervision keeps it down (heard now, it would come back up).
        unit.last_seen_at = datetime.now(UTC) - timedelta(hours=1)
        unit.supervision_status = "down"
        uow.commit()
    http = public(live_server)
    assert "out of service at the moment" in http.get("/p/HP-03").text
    features = http.get("/public/help-points.geojson").json()["features"]
    states = {f["id"]: f["properties"]["in_service"] for f in features}
    assert states["HP-03"] is False and states["HP-04"] is True
    labels = {f["id"]: f["properties"]["state"] for f in features}
    assert labels["HP-03"] == "Out of service" and labels["HP-05"] == "Not yet in service"


def test_qr_code_encodes_the_short_url(live_server) -> None:  # type: ignore[no-untyped-def]
    answer = public(live_server).get("/p/HP-02/qr.svg")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/svg+xml"
    expected = segno.make(f"{live_server.base_url}/p/HP-02", error="m")
    # The same URL at the same error level gives the same symbol: compare the module paths.
    assert re.search(r'<path[^>]*d="([^"]+)"', answer.text).group(1) in _svg(expected)  # type: ignore[union-attr]


def test_qr_code_asked_for_in_a_language_opens_the_page_in_it(live_server) -> None:  # type: ignore[no-untyped-def]
    answer = public(live_server).get("/p/HP-02/qr.svg?lang=pl")
    expected = segno.make(f"{live_server.base_url}/p/HP-02?lang=pl", error="m")
    assert re.search(r'<path[^>]*d="([^"]+)"', answer.text).group(1) in _svg(expected)  # type: ignore[union-attr]
    # A language the scheme does not offer is ignored, not encoded.
    answer = public(live_server).get("/p/HP-02/qr.svg?lang=xx")
    expected = segno.make(f"{live_server.base_url}/p/HP-02", error="m")
    assert re.search(r'<path[^>]*d="([^"]+)"', answer.text).group(1) in _svg(expected)  # type: ignore[union-attr]


def _svg(qr: segno.QRCode) -> str:
    import io

    out = io.BytesIO()
    qr.save(out, kind="svg", scale=8, border=4, xmldecl=False)
    return out.getvalue().decode()


def test_public_url_setting_goes_into_short_urls(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(public_url="https://help.example.org/")
    text = public(server).get("/p/HP-01").text
    assert "https://help.example.org/p/HP-01" in text


def test_geojson_of_units_and_routes(live_server) -> None:  # type: ignore[no-untyped-def]
    admin = client(live_server, "adam", Role.ADMIN)
    admin.post("/api/routes", json=ROUTE)
    http = public(live_server)
    units = http.get("/public/help-points.geojson")
    assert units.headers["content-type"] == "application/geo+json"
    first = units.json()["features"][0]
    assert first["geometry"] == {"type": "Point", "coordinates": [-0.88414, 52.24682]}
    assert set(first["properties"]) == {
        "id",
        "name",
        "zone",
        "description",
        "in_service",
        "state",
        "status",
        "url",
    }
    assert first["properties"]["status"] == "not_yet_in_service"
    routes = http.get("/public/routes.geojson").json()["features"]
    assert [r["properties"]["name"] for r in routes] == ["Racecourse lit path"]
    assert routes[0]["geometry"] == ROUTE["geometry"]


def test_admins_edit_routes_and_bad_geojson_changes_nothing(live_server) -> None:  # type: ignore[no-untyped-def]
    assert public(live_server).post("/api/routes", json=ROUTE).status_code == 401
    operator = client(live_server, "olly", Role.OPERATOR)
    assert operator.post("/api/routes", json=ROUTE).status_code == 403
    admin = client(live_server, "adam", Role.ADMIN)
    route_id = admin.post("/api/routes", json=ROUTE).json()["id"]
    wrong = [[-0.88, 52.2], [-0.9, 152.2]]
    bad = ROUTE | {"geometry": {"type": "LineString", "coordinates": wrong}}
    answer = admin.put(f"/api/routes/{route_id}", json=bad)
    assert answer.status_code == 400 and "latitude" in answer.json()["detail"]
    assert admin.get("/api/routes").json()[0]["geometry"] == ROUTE["geometry"]
    renamed = admin.put(f"/api/routes/{route_id}", json=ROUTE | {"name": "Racecourse path"})
    assert renamed.json()["properties"]["name"] == "Racecourse path"
    listed = admin.get("/api/routes").json()
    assert listed[0]["updated_by"] == "adam"
    assert admin.get("/admin/routes").status_code == 200
    assert admin.delete(f"/api/routes/{route_id}").status_code == 204
    assert admin.delete(f"/api/routes/{route_id}").status_code == 404
    assert admin.get("/api/routes").json() == []


def test_no_public_response_contains_incident_or_personal_data(live_server) -> None:  # type: ignore[no-untyped-def]
    """Fill the record with incidents, notes, operators and keys; the public sees none of it."""
    admin = client(live_server, "zebedee.admin", Role.ADMIN)
    admin.post("/api/routes", json=ROUTE)
    live_server.add_operator("quentin.operator", "pw-secret-123", Role.OPERATOR)
    at = datetime(2026, 11, 20, 22, 15, tzinfo=UTC)
    uow = live_server.database.uow()
    with uow:
        handle_device_events(
            uow,
            [ReportedEvent("HP-05", 1, EventType.ACTIVATION, at, {"note": "payload-marker"})],
            at,
            timedelta(minutes=5),
        )
        uow.units.get("HP-05").firmware = "firmware-marker-9.9"
        uow.commit()
    incident_id = 1
    incident_service.acknowledge(live_server.database.uow(), incident_id, "quentin.operator")
    incident_service.add_note(
        live_server.database.uow(), incident_id, "Caller Jane Roe, 07700 900123", "quentin.operator"
    )
    incident_service.classify(
        live_server.database.uow(), incident_id, Classification.CONCERN, "quentin.operator"
    )
    secrets = [
        "INC-0",
        "quentin",
        "zebedee",
        "Jane Roe",
        "07700 900123",
        "payload-marker",
        "firmware-marker",
        "2026-11-20",
        "concern",
        "acknowledged",
        "key_hash",
        *[unit.key for unit in live_server.units],
    ]
    http = public(live_server)
    paths = ["/help-points", "/public/help-points.geojson", "/public/routes.geojson"]
    for n in range(1, 9):
        paths += [f"/p/HP-0{n}", f"/p/HP-0{n}/qr.svg"]
    paths += _public_printables()
    # The pages in other languages, the service worker and a "you are here" map (issue 22).
    paths += ["/help-points?lang=pl", "/p/HP-05?lang=ro", "/sw.js"]
    paths += ["/help-points/here.pdf?lat=52.23724&lon=-0.8959&name=Market+gate"]
    for path in paths:
        answer = http.get(path)
        assert answer.status_code == 200, path
        body = _readable(answer)
        for secret in secrets:
            assert secret.lower() not in body.lower(), (path, secret)


def _public_printables() -> list[str]:
    """Printable PDFs are public too: their text is checked as well."""
    return ["/p/HP-05/sign.pdf", "/help-points/signs.pdf", "/help-points/leaflet.pdf"]


def _readable(answer: httpx.Response) -> str:
    if answer.headers["content-type"] == "application/pdf":
        from tests.public.pdf_reading import pdf_pages

        return "\n".join(f"{text} {codes}" for text, codes in pdf_pages(answer.content))
    return answer.text
