"""The CAP 1.2 alert and the EIDO-style JSON object, checked against the standards' rules.

The CAP check is explicit, not the OASIS XSD (which is not vendored here): it parses the XML
with lxml and checks what the CAP 1.2 schema and specification require of what we emit — the
namespace, required elements and their order, the enumerated values, the dateTime form
(no "Z", UTC as -00:00, no fractions), the identifier's forbidden characters, a restriction
for Restricted scope, and the circle form "lat,lon radius".
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from lxml import etree

from helppoint.domain.notifications import Notification
from helppoint.domain.plans import ActionKind, Channel
from helppoint.notify.base import IncidentFacts
from helppoint.notify.cap import CAP_NS, cap_alert, cap_time
from helppoint.notify.eido import eido_incident

T0 = datetime(2026, 11, 25, 23, 4, 5, 678901, tzinfo=UTC)

ALERT_ORDER = [
    ("identifier", 1, 1),
    ("sender", 1, 1),
    ("sent", 1, 1),
    ("status", 1, 1),
    ("msgType", 1, 1),
    ("source", 0, 1),
    ("scope", 1, 1),
    ("restriction", 0, 1),
    ("addresses", 0, 1),
    ("code", 0, None),
    ("note", 0, 1),
    ("references", 0, 1),
    ("incidents", 0, 1),
    ("info", 0, None),
]
INFO_ORDER = [
    ("language", 0, 1),
    ("category", 1, None),
    ("event", 1, 1),
    ("responseType", 0, None),
    ("urgency", 1, 1),
    ("severity", 1, 1),
    ("certainty", 1, 1),
    ("audience", 0, 1),
    ("eventCode", 0, None),
    ("effective", 0, 1),
    ("onset", 0, 1),
    ("expires", 0, 1),
    ("senderName", 0, 1),
    ("headline", 0, 1),
    ("description", 0, 1),
    ("instruction", 0, 1),
    ("web", 0, 1),
    ("contact", 0, 1),
    ("parameter", 0, None),
    ("resource", 0, None),
    ("area", 0, None),
]
AREA_ORDER = [
    ("areaDesc", 1, 1),
    ("polygon", 0, None),
    ("circle", 0, None),
    ("geocode", 0, None),
    ("altitude", 0, 1),
    ("ceiling", 0, 1),
]
ENUMS = {
    "status": {"Actual", "Exercise", "System", "Test", "Draft"},
    "msgType": {"Alert", "Update", "Cancel", "Ack", "Error"},
    "scope": {"Public", "Restricted", "Private"},
    "category": {
        "Geo",
        "Met",
        "Safety",
        "Security",
        "Rescue",
        "Fire",
        "Health",
        "Env",
        "Transport",
        "Infra",
        "CBRNE",
        "Other",
    },
    "responseType": {
        "Shelter",
        "Evacuate",
        "Prepare",
        "Execute",
        "Avoid",
        "Monitor",
        "Assess",
        "AllClear",
        "None",
    },
    "urgency": {"Immediate", "Expected", "Future", "Past", "Unknown"},
    "severity": {"Extreme", "Severe", "Moderate", "Minor", "Unknown"},
    "certainty": {"Observed", "Likely", "Possible", "Unlikely", "Unknown"},
}
CAP_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$")


def facts(classification: str = "imminent_threat", label: str = "Imminent threat") -> IncidentFacts:
    return IncidentFacts(
        ref="INC-000042",
        incident_id=42,
        unit_id="HP-06",
        unit_name="Abington Street <library> & co",
        zone="town-centre",
        latitude=52.2382,
        longitude=-0.89212,
        classification=classification,
        classification_label=label,
        opened_at=T0,
        operator="olive",
        police_urn="NP-2026-0042",
        state="escalated",
    )


def notification(kind: ActionKind = ActionKind.POLICE) -> Notification:
    return Notification(
        incident_id=42,
        kind=kind,
        channel=Channel.CAP,
        target="https://cad.police.example/cap",
        message="Imminent threat at Abington Street (INC-000042)",
        idempotency_key="0f" * 16,
        created_at=T0,
        next_attempt_at=T0,
        created_by="olive",
    )


def local(element: etree._Element) -> str:
    return etree.QName(element).localname


def check_order(parent: etree._Element, order: list[tuple[str, int, int | None]]) -> None:
    names = [local(child) for child in parent]
    position = 0
    for name, least, most in order:
        count = 0
        while position < len(names) and names[position] == name:
            count += 1
            position += 1
        assert count >= least, f"<{local(parent)}> needs <{name}>"
        assert most is None or count <= most, f"<{local(parent)}> has {count} <{name}>"
    assert position == len(names), f"unexpected or misplaced <{names[position]}> in {names}"


def check_cap(document: bytes) -> etree._Element:
    root = etree.fromstring(document)
    assert etree.QName(root).namespace == CAP_NS and local(root) == "alert"
    for element in root.iter():
        assert etree.QName(element).namespace == CAP_NS, element.tag
        name = local(element)
        if name in ENUMS:
            assert element.text in ENUMS[name], f"<{name}>{element.text}"
        if name in ("sent", "effective", "onset", "expires"):
            assert CAP_DATETIME.match(element.text or ""), f"<{name}>{element.text}"
    check_order(root, ALERT_ORDER)
    identifier = root.findtext(f"{{{CAP_NS}}}identifier") or ""
    assert identifier and not re.search(r"[\s,<&]", identifier)
    if root.findtext(f"{{{CAP_NS}}}scope") == "Restricted":
        assert root.findtext(f"{{{CAP_NS}}}restriction")
    for info in root.iterfind(f"{{{CAP_NS}}}info"):
        check_order(info, INFO_ORDER)
        for parameter in info.iterfind(f"{{{CAP_NS}}}parameter"):
            check_order(parameter, [("valueName", 1, 1), ("value", 1, 1)])
        for area in info.iterfind(f"{{{CAP_NS}}}area"):
            check_order(area, AREA_ORDER)
            for circle in area.iterfind(f"{{{CAP_NS}}}circle"):
                assert re.match(r"^-?\d+(\.\d+)?,-?\d+(\.\d+)? \d+(\.\d+)?$", circle.text or "")
    return root


def test_cap_time_is_seconds_with_utc_as_minus_zero() -> None:
    assert cap_time(T0) == "2026-11-25T23:04:05-00:00"


@pytest.mark.parametrize(
    ("kind", "classification", "label"),
    [
        (ActionKind.POLICE, "imminent_threat", "Imminent threat"),
        (ActionKind.AMBULANCE, "medical", "Medical"),
        (ActionKind.COUNCIL_SAFEGUARDING, "concern", "Concern / advice"),
        (ActionKind.SUPERVISOR, "silent", "Silent / no response"),
    ],
)
def test_cap_alert_follows_cap_1_2(kind: ActionKind, classification: str, label: str) -> None:
    document = cap_alert(notification(kind), facts(classification, label), "arc@helppoint.example")
    assert document.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = check_cap(document)
    ns = {"cap": CAP_NS}
    assert root.findtext("cap:identifier", namespaces=ns) == "helppoint-" + "0f" * 16
    assert root.findtext("cap:sent", namespaces=ns) == "2026-11-25T23:04:05-00:00"
    assert root.findtext("cap:info/cap:event", namespaces=ns) == label
    assert root.findtext("cap:info/cap:area/cap:circle", namespaces=ns) == (
        "52.238200,-0.892120 0.05"
    )
    assert "<library> & co" in (
        root.findtext("cap:info/cap:area/cap:areaDesc", namespaces=ns) or ""
    )
    params = {
        p.findtext("cap:valueName", namespaces=ns): p.findtext("cap:value", namespaces=ns)
        for p in root.iterfind("cap:info/cap:parameter", namespaces=ns)
    }
    assert params["incidentRef"] == "INC-000042" and params["policeURN"] == "NP-2026-0042"


def test_the_structure_check_catches_mistakes() -> None:
    good = cap_alert(notification(), facts(), "arc@helppoint.example")
    for broken in (
        good.replace(b"<status>Actual</status>", b"<status>Real</status>"),
        good.replace(b"-00:00</sent>", b"Z</sent>"),
        good.replace(b"<msgType>Alert</msgType>", b""),
        good.replace(b"<scope>Restricted</scope>", b"").replace(
            b"<status>", b"<scope>Restricted</scope><status>"
        ),
    ):
        with pytest.raises(AssertionError):
            check_cap(broken)


def test_eido_object_has_its_components() -> None:
    eido = eido_incident(notification(), facts())
    assert eido["idempotencyKey"] == "0f" * 16
    assert set(eido) >= {
        "eidoMessageIdentifier",
        "incidentComponent",
        "callComponent",
        "locationComponent",
        "notesComponent",
        "agencyComponent",
    }
    location = eido["locationComponent"][0]
    assert location["locationByValue"] == {"type": "Point", "coordinates": [-0.89212, 52.2382]}
    assert eido["incidentComponent"]["locationReference"] == location["$id"]
    assert eido["notesComponent"][0]["noteText"].startswith("Imminent threat")
