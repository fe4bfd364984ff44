"""JSON log lines: one object per line, the unit and incident ids as fields."""

from __future__ import annotations

import json
import logging

from helppoint.logformat import JsonFormatter, ids_in


def record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("helppoint.test", logging.WARNING, __file__, 1, msg, args, None)
    made.__dict__.update(extra)
    return made


def test_ids_are_read_from_the_wording_of_the_message() -> None:
    assert ids_in("unit %s connected from %s", ("HP-01", "1.2.3.4:5")) == {"unit_id": "HP-01"}
    assert ids_in("could not store %s's answer", ("HP-01",)) == {}
    assert ids_in("incident %d of unit %s escalated", (42, "HP-07")) == {
        "incident_id": "42",
        "unit_id": "HP-07",
    }
    assert ids_in("%d%% done for unit %s", (5, "HP-02")) == {"unit_id": "HP-02"}
    assert ids_in("unit %s", ()) == {}


def test_a_line_is_one_json_object_with_the_ids() -> None:
    line = JsonFormatter().format(record("unit %s seq %d refused: %s", "HP-03", 7, "bad\nthing"))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["unit_id"] == "HP-03" and entry["level"] == "warning"
    assert entry["message"] == "unit HP-03 seq 7 refused: bad\nthing"
    assert entry["time"].endswith("+00:00")


def test_extra_ids_and_hostile_text_stay_valid_json() -> None:
    line = JsonFormatter().format(record("odd %s", "\ud800 lone", incident_id=9))
    entry = json.loads(line)
    assert entry["incident_id"] == "9"
    assert entry["message"] == "odd \ud800 lone"
