"""A JSON incident object modelled on NENA/APCO EIDO (Emergency Incident Data Object).

The shape follows EIDO's components (incident, call, location, notes, agency) and naming, so a
receiving CAD can map it; it is not a certified EIDO conformance implementation.
"""

from __future__ import annotations

from typing import Any

from helppoint.domain.notifications import Notification
from helppoint.notify.base import IncidentFacts

#: Identifies the sending system in every object.
SENDING_SYSTEM = "urn:helppoint:control-room"


def eido_incident(notification: Notification, incident: IncidentFacts) -> dict[str, Any]:
    """The EIDO-style JSON object for one notification about an incident."""
    opened = incident.opened_at.isoformat()
    sent = notification.created_at.isoformat()
    location_id = f"loc-{incident.unit_id}"
    return {
        "eidoMessageIdentifier": f"urn:helppoint:eido:{notification.idempotency_key}",
        "$id": f"urn:helppoint:eido:{notification.idempotency_key}",
        "lastUpdateTimeStamp": sent,
        "sendingSystemIdentifier": SENDING_SYSTEM,
        "idempotencyKey": notification.idempotency_key,
        # Test activity (a unit on test or being commissioned): the receiver must not act.
        "test": incident.test,
        "incidentComponent": {
            "incidentTrackingIdentifier": f"urn:helppoint:incident:{incident.incident_id}",
            "localIncidentIdentifier": incident.ref,
            "incidentTypeCommonRegistryText": incident.classification,
            "incidentTypeDescription": incident.classification_label,
            "incidentStatusCommonRegistryText": incident.state,
            "incidentCreationTimeStamp": opened,
            "lastUpdateTimeStamp": sent,
            "locationReference": location_id,
            "externalReferences": [{"system": "police-urn", "identifier": incident.police_urn}]
            if incident.police_urn
            else [],
        },
        "callComponent": [
            {
                "$id": f"call-{incident.incident_id}",
                "callTypeDescription": "Help point activation",
                "callStartTimeStamp": opened,
                "sourceDeviceIdentifier": incident.unit_id,
                "locationReference": location_id,
            }
        ],
        "locationComponent": [
            {
                "$id": location_id,
                "locationTypeDescription": "Help point",
                "locationByValue": {
                    "type": "Point",
                    "coordinates": [incident.longitude, incident.latitude],
                },
                "civicAddressText": incident.unit_name,
                "zoneIdentifier": incident.zone,
            }
        ],
        "notesComponent": [
            {
                "$id": f"note-{notification.idempotency_key}",
                "noteDateTimeStamp": sent,
                "noteText": notification.message,
                "authorReference": incident.operator,
            }
        ],
        "agencyComponent": [
            {
                "$id": "agency-control-room",
                "agencyTypeCommonRegistryText": "Alarm Receiving Centre",
                "requestedAgencyType": notification.kind.value,
            }
        ],
    }
