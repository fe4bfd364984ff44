"""OASIS Common Alerting Protocol (CAP) 1.2 alerts for an incident.

Follows the CAP 1.2 element order and value rules: times as `YYYY-MM-DDThh:mm:ss-00:00` (UTC
written as -00:00, no fractional seconds), an identifier without spaces, commas or `<`/`&`,
`scope` Restricted with a `restriction`, and one `info` with one `area` (a circle of 50 m
around the unit: "lat,lon radius-km").
"""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from helppoint.domain.notifications import Notification
from helppoint.domain.plans import ActionKind
from helppoint.notify.base import IncidentFacts

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
#: Radius of the alert area around the unit, in kilometres.
AREA_RADIUS_KM = 0.05

_CATEGORY = {
    ActionKind.POLICE: "Security",
    ActionKind.AMBULANCE: "Health",
    ActionKind.SITE_SECURITY: "Security",
    ActionKind.COUNCIL_SAFEGUARDING: "Safety",
    ActionKind.SUPERVISOR: "Safety",
    ActionKind.MAINTENANCE: "Infra",
}
_SEVERITY = {
    "imminent_threat": ("Immediate", "Severe", "Observed"),
    "medical": ("Immediate", "Severe", "Observed"),
    "concern": ("Expected", "Moderate", "Likely"),
}


def cap_time(at: datetime) -> str:
    """A CAP 1.2 dateTime: second precision, UTC written as -00:00."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S-00:00")


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    if text is not None:
        element.text = text
    return element


def cap_alert(notification: Notification, incident: IncidentFacts, sender: str) -> bytes:
    """The CAP 1.2 alert (UTF-8 XML) for one notification about an incident."""
    ET.register_namespace("", CAP_NS)
    alert = ET.Element(f"{{{CAP_NS}}}alert")
    _sub(alert, "identifier", f"helppoint-{notification.idempotency_key}")
    _sub(alert, "sender", sender)
    _sub(alert, "sent", cap_time(notification.created_at))
    # CAP 1.2's status "Test": "technical testing only, all recipients disregard".
    _sub(alert, "status", "Test" if incident.test else "Actual")
    _sub(alert, "msgType", "Alert")
    _sub(alert, "source", incident.operator or "control room")
    _sub(alert, "scope", "Restricted")
    _sub(alert, "restriction", "Emergency services and the control room only")
    _sub(alert, "incidents", incident.ref)
    info = _sub(alert, "info")
    _sub(info, "language", "en-GB")
    # A recipient kind added later without a category must not stop the alert going out.
    _sub(info, "category", _CATEGORY.get(notification.kind, "Other"))
    _sub(info, "event", incident.classification_label)
    _sub(info, "responseType", "Monitor")
    urgency, severity, certainty = _SEVERITY.get(
        incident.classification, ("Unknown", "Unknown", "Unknown")
    )
    _sub(info, "urgency", urgency)
    _sub(info, "severity", severity)
    _sub(info, "certainty", certainty)
    _sub(info, "senderName", "helppoint control room")
    _sub(info, "headline", f"{incident.classification_label} at help point {incident.unit_name}")
    _sub(info, "description", notification.message)
    for name, value in (
        ("incidentRef", incident.ref),
        ("unitId", incident.unit_id),
        ("policeURN", incident.police_urn),
        ("openedAt", cap_time(incident.opened_at)),
    ):
        if value:
            parameter = _sub(info, "parameter")
            _sub(parameter, "valueName", name)
            _sub(parameter, "value", value)
    area = _sub(info, "area")
    _sub(area, "areaDesc", f"Help point {incident.unit_id}: {incident.unit_name}")
    _sub(area, "circle", f"{incident.latitude:.6f},{incident.longitude:.6f} {AREA_RADIUS_KM}")
    document: bytes = ET.tostring(alert, encoding="utf-8", xml_declaration=True)
    return document
