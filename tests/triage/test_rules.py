"""Patterns and suggestion rules (issue 18, item 5): per-unit patterns, hyperactive units,
chattering units grouped and marked, and rules that mark and suggest but never close."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from websockets.asyncio.client import connect

from helppoint.config import ConfigError, Settings
from helppoint.domain.classification import Classification
from helppoint.domain.errors import InvalidInput
from helppoint.domain.events import EventType
from helppoint.domain.model import Role
from helppoint.domain.triage import Judgement, Voice
from helppoint.domain.triage_patterns import (
    DEFAULT_CHATTER,
    AlarmFact,
    ChatterRule,
    RuleFacts,
    RuleOutcome,
    SuggestionRule,
    chattering,
    hyperactive,
    unit_patterns,
)
from helppoint.gateway.batch_commit import Batch, commit_batches
from helppoint.services import incidents as incident_service
from helppoint.services import triage, triage_rules
from helppoint.services.ingest import ReportedEvent
from helppoint.services.seed import seed_demo
from helppoint.store.database import make_session_factory
from helppoint.store.uow import UnitOfWork
from tests.conftest import Database
from tests.waiting import first_message
from tests.web.test_api import client, press

T0 = datetime(2026, 12, 5, 23, 10, tzinfo=UTC)  # 23:10 in London
TZ = "Europe/London"


def facts(**changes: Any) -> RuleFacts:
    values: dict[str, Any] = {
        "unit_id": "HP-01",
        "zone_id": "town-centre",
        "local_hour": 23,
        "voice": Voice.SILENT,
        "recent_alarms": 1,
    } | changes
    return RuleFacts(**values)


def test_rules_match_place_hours_voice_and_repeats_but_never_a_voice() -> None:
    night = SuggestionRule(
        "night pranks", "prank", Classification.FALSE_MALICIOUS, hour_from=22, hour_to=4
    )
    assert night.matches(facts(local_hour=23)) and night.matches(facts(local_hour=3))
    assert not night.matches(facts(local_hour=12))
    assert not night.matches(facts(voice=Voice.VOICE))  # a voice heard never matches
    silent = SuggestionRule("silent", "silent", voice="silent", min_alarms=2, within_minutes=30)
    assert not silent.matches(facts(recent_alarms=1))
    assert silent.matches(facts(recent_alarms=2))
    assert not silent.matches(facts(recent_alarms=2, voice=Voice.NOISY))
    unjudged = SuggestionRule("unjudged", "no audio", voice="none", zone_id="racecourse")
    assert unjudged.matches(facts(voice=None, zone_id="racecourse"))
    assert not unjudged.matches(facts(voice=None))
    assert not SuggestionRule("off", "x", active=False).matches(facts())


@pytest.mark.parametrize(
    "changes",
    [
        {"name": " "},
        {"mark": "Bad Mark!"},
        {"suggest": Classification.IMMINENT_THREAT},
        {"hour_from": 22},
        {"hour_from": 5, "hour_to": 5},
        {"hour_from": 24, "hour_to": 3},
        {"voice": "voice"},
        {"min_alarms": 0},
        {"within_minutes": 2000},
    ],
)
def test_bad_rules_are_refused(changes: dict[str, Any]) -> None:
    values: dict[str, Any] = {"name": "r", "mark": "m"} | changes
    with pytest.raises(InvalidInput):
        SuggestionRule(**values)


def test_chattering_is_repeated_alarms_with_no_voice() -> None:
    at = T0
    silent = [(at - timedelta(minutes=m), Voice.SILENT) for m in (0, 10, 20)]
    assert chattering(silent, at)
    assert not chattering(silent[:2], at)
    assert not chattering([*silent, (at - timedelta(minutes=5), Voice.VOICE)], at)
    assert not chattering([(at - timedelta(minutes=m), None) for m in (0, 10, 40)], at)


def test_chattering_follows_the_schemes_own_thresholds() -> None:
    at = T0
    two = [(at - timedelta(minutes=m), Voice.SILENT) for m in (0, 50)]
    assert not chattering(two, at)  # the default: 3 within 30 minutes
    assert chattering(two, at, ChatterRule(alarms=2, window=timedelta(hours=1)))
    assert not chattering(two, at, ChatterRule(alarms=2, window=timedelta(minutes=45)))
    assert not chattering(two, at, ChatterRule(alarms=4, window=timedelta(hours=1)))


@pytest.mark.parametrize(
    "alarms, window",
    [(1, timedelta(minutes=30)), (3, timedelta(seconds=30)), (3, timedelta(hours=25))],
)
def test_a_chattering_rule_that_makes_no_sense_is_refused(alarms: int, window: timedelta) -> None:
    with pytest.raises(InvalidInput):
        ChatterRule(alarms, window)


def test_the_chattering_thresholds_are_settings() -> None:
    settings = Settings().with_values({"chatter_alarms": "5", "chatter_minutes": "90"})
    assert settings.chatter_rule == ChatterRule(5, timedelta(minutes=90))
    assert Settings().chatter_rule == ChatterRule(3, timedelta(minutes=30))
    for name, value in (("chatter_alarms", "1"), ("chatter_minutes", "0"),
                        ("chatter_minutes", "1441")):  # fmt: skip
        with pytest.raises(ConfigError, match=name):
            Settings().with_values({name: value})


def test_patterns_count_presses_false_share_and_prank_hours() -> None:
    def alarm(unit: str, hour: int, c: Classification | None, presses: int = 1) -> AlarmFact:
        return AlarmFact(unit, T0, hour, c, None, presses)

    alarms = [
        alarm("HP-01", 23, Classification.FALSE_MALICIOUS, 4),
        alarm("HP-01", 23, Classification.FALSE_ACCIDENTAL),
        alarm("HP-01", 1, Classification.FALSE_MALICIOUS),
        alarm("HP-01", 14, Classification.CONCERN),
        alarm("HP-01", 15, None),
        alarm("HP-02", 10, Classification.FALSE_ACCIDENTAL),
    ]
    patterns = unit_patterns(alarms)
    one = patterns["HP-01"].view(hours=10)
    assert (one["alarms"], one["presses"], one["presses_per_hour"]) == (5, 8, 0.8)
    assert (one["classified"], one["false"], one["genuine"], one["false_share"]) == (4, 3, 1, 0.75)
    assert one["prank_hours"] == [23, 1]
    assert [p.unit_id for p in hyperactive(patterns, days=1, per_day=5)] == ["HP-01"]
    assert hyperactive(patterns, days=2, per_day=5) == []


def test_outcomes_count_agreement_other_genuine_and_open() -> None:
    outcome = RuleOutcome("night")
    m = Classification.FALSE_MALICIOUS
    for decided in (m, m, Classification.FALSE_ACCIDENTAL, Classification.CONCERN, None):
        outcome.add(m, decided)
    assert outcome.view() == {
        "rule": "night",
        "suggested": 5,
        "open": 1,
        "agreed": 2,
        "other": 1,
        "genuine": 1,
        "agreed_share": 0.5,
    }


# ---------- on the database ----------


class Writer:
    def __init__(self, database: Database) -> None:
        self.factory = make_session_factory(database.engine)
        self.seq: dict[str, int] = {}

    def press(self, unit: str, at: datetime) -> None:
        self.seq[unit] = self.seq.get(unit, 0) + 1
        event = ReportedEvent(unit, self.seq[unit], EventType.ACTIVATION, at, {})
        commit_batches(UnitOfWork(self.factory), [Batch([event], at)], timedelta(minutes=5))


@pytest.fixture
def seeded(database: Database) -> Database:
    seed_demo(database.uow())
    return database


def incident_of(database: Database, unit: str) -> dict[str, Any]:
    queue = [i for i in incident_service.open_queue(database.uow()) if i["unit_id"] == unit]
    return queue[-1]


def test_a_rule_marks_and_suggests_but_never_closes_and_outcomes_compare(
    seeded: Database,
) -> None:
    rule = triage_rules.add_rule(
        seeded.uow(),
        {
            "name": "silent at night",
            "mark": "likely prank",
            "suggest": Classification.FALSE_MALICIOUS,
            "hour_from": 22,
            "hour_to": 4,
            "voice": "silent",
        },
        "sue",
    )
    assert rule["active"] and [r["name"] for r in triage_rules.list_rules(seeded.uow())] == [
        "silent at night"
    ]
    with pytest.raises(InvalidInput):
        triage_rules.add_rule(seeded.uow(), {"name": "silent at night", "mark": "x"}, "sue")
    with pytest.raises(InvalidInput):
        triage_rules.add_rule(seeded.uow(), {"name": "y", "mark": "x", "unit_id": "HP-99"}, "sue")
    writer = Writer(seeded)
    writer.press("HP-01", T0)
    writer.press("HP-02", T0)
    first, second = incident_of(seeded, "HP-01")["id"], incident_of(seeded, "HP-02")["id"]
    # Not judged yet: the rule wants silence.
    assert triage_rules.evaluate(seeded.uow(), first, TZ) is None
    triage.record_voice(seeded.uow(), first, Judgement(Voice.SILENT, 0.0))
    triage.record_voice(seeded.uow(), second, Judgement(Voice.SILENT, 0.0))
    view = triage_rules.evaluate(seeded.uow(), first, TZ)
    assert view is not None and view["mark"] == "likely prank"
    assert view["suggestion"] == {
        "classification": "false_malicious",
        "label": Classification.FALSE_MALICIOUS.label,
        "rule": "silent at night",
    }
    # A suggestion only: still new, open, unclassified; marked once.
    assert (view["state"], view["classification"], view["closed_at"]) == ("new", None, None)
    assert triage_rules.evaluate(seeded.uow(), first, TZ) is None
    triage_rules.evaluate(seeded.uow(), second, TZ)
    detail = incident_service.incident_detail(seeded.uow(), first)
    assert detail["state"] == "new" and detail["mark"] == "likely prank"
    [entry] = [e for e in detail["timeline"] if e["action"] == "triage.suggested"]
    assert entry["actor"] == "system:triage" and entry["detail"]["rules"] == ["silent at night"]

    # Operators decide: one agrees, the other was a real concern.
    for incident_id, decided in (
        (first, Classification.FALSE_MALICIOUS),
        (second, Classification.CONCERN),
    ):
        incident_service.acknowledge(seeded.uow(), incident_id, "alice")
        incident_service.close(seeded.uow(), incident_id, "alice", "", decided)
    [outcome] = triage_rules.rule_outcomes(seeded.uow(), T0 - timedelta(days=1))
    assert outcome["rule"] == "silent at night"
    assert (outcome["suggested"], outcome["agreed"], outcome["genuine"]) == (2, 1, 1)

    # Switched off, it marks nothing more.
    triage_rules.set_rule_active(seeded.uow(), int(rule["id"]), False, "sue")
    writer.press("HP-03", T0 + timedelta(minutes=1))
    third = incident_of(seeded, "HP-03")["id"]
    triage.record_voice(seeded.uow(), third, Judgement(Voice.SILENT, 0.0))
    assert triage_rules.evaluate(seeded.uow(), third, TZ) is None


def test_a_chattering_unit_is_marked_and_its_open_alarms_grouped(seeded: Database) -> None:
    writer = Writer(seeded)
    ids = []
    for minutes in (0, 7, 14):  # beyond the 5 min join window: three alarms
        writer.press("HP-04", T0 + timedelta(minutes=minutes))
        ids.append(incident_of(seeded, "HP-04")["id"])
        triage.record_voice(seeded.uow(), ids[-1], Judgement(Voice.SILENT, 0.01))
        triage_rules.evaluate(seeded.uow(), ids[-1], TZ)
    marks = {i: incident_service.incident_detail(seeded.uow(), i)["mark"] for i in ids}
    assert marks == {ids[0]: "chattering", ids[1]: "chattering", ids[2]: "chattering"}
    assert all(incident_service.incident_detail(seeded.uow(), i)["state"] == "new" for i in ids)
    [outcome] = triage_rules.rule_outcomes(seeded.uow(), T0 - timedelta(days=1))
    assert outcome["rule"] == "chattering" and outcome["suggested"] == 1


def test_a_scheme_that_chatters_later_leaves_three_alarms_unmarked(seeded: Database) -> None:
    writer = Writer(seeded)
    ids = []
    rule = ChatterRule(alarms=4, window=timedelta(minutes=30))
    for minutes in (0, 7, 14):
        writer.press("HP-04", T0 + timedelta(minutes=minutes))
        ids.append(incident_of(seeded, "HP-04")["id"])
        triage.record_voice(seeded.uow(), ids[-1], Judgement(Voice.SILENT, 0.01))
        assert triage_rules.evaluate(seeded.uow(), ids[-1], TZ, rule) is None
    writer.press("HP-04", T0 + timedelta(minutes=21))
    ids.append(incident_of(seeded, "HP-04")["id"])
    triage.record_voice(seeded.uow(), ids[-1], Judgement(Voice.SILENT, 0.01))
    assert triage_rules.evaluate(seeded.uow(), ids[-1], TZ, rule) is not None
    marks = {incident_service.incident_detail(seeded.uow(), i)["mark"] for i in ids}
    assert marks == {"chattering"}


def test_a_voice_heard_keeps_a_unit_from_chattering(seeded: Database) -> None:
    writer = Writer(seeded)
    for minutes, voice in ((0, Voice.SILENT), (7, Voice.VOICE), (14, Voice.SILENT)):
        writer.press("HP-05", T0 + timedelta(minutes=minutes))
        incident_id = incident_of(seeded, "HP-05")["id"]
        triage.record_voice(seeded.uow(), incident_id, Judgement(voice, 0.3))
        triage_rules.evaluate(seeded.uow(), incident_id, TZ)
    assert all(i["mark"] is None for i in incident_service.open_queue(seeded.uow()))


def test_a_flood_of_alarms_is_looked_at_together_and_finds_what_one_at_a_time_would(
    seeded: Database,
) -> None:
    # The worker looks at the alarms that queued up together (a flood's thousands were one
    # read transaction of five queries each): the alarms it finds due are those `evaluate`
    # marks, whatever else is in the batch.
    triage_rules.add_rule(
        seeded.uow(),
        {"name": "HP-08 repeats", "mark": "repeat", "unit_id": "HP-08", "voice": "none"},
        "sue",
    )
    writer = Writer(seeded)
    ids = []
    for minutes in (0, 7, 14):  # HP-04 chatters at its third silent alarm
        writer.press("HP-04", T0 + timedelta(minutes=minutes))
        ids.append(incident_of(seeded, "HP-04")["id"])
        triage.record_voice(seeded.uow(), ids[-1], Judgement(Voice.SILENT, 0.01))
    for unit in ("HP-08", "HP-01", "HP-02"):
        writer.press(unit, T0 + timedelta(minutes=15))
        ids.append(incident_of(seeded, unit)["id"])
    closed = ids[-1]
    incident_service.acknowledge(seeded.uow(), closed, "alice")
    incident_service.close(seeded.uow(), closed, "alice", "", Classification.FALSE_MALICIOUS)
    one_at_a_time = []
    for incident_id in ids:
        uow = seeded.uow()
        with uow.reading():
            if triage_rules._new_marks_of(uow, incident_id, TZ, DEFAULT_CHATTER) is not None:
                one_at_a_time.append(incident_id)
    assert one_at_a_time == [ids[2], ids[3]]  # HP-04's third alarm, and HP-08's

    statements: list[str] = []

    def executed(*args: Any) -> None:
        statements.append(args[2])

    event.listen(seeded.engine, "before_cursor_execute", executed)
    try:
        together = triage_rules.needing_marks(seeded.uow(), [*ids, 10**9], TZ, DEFAULT_CHATTER)
    finally:
        event.remove(seeded.engine, "before_cursor_execute", executed)
    assert together == one_at_a_time
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 5
    for incident_id in together:
        assert triage_rules.evaluate(seeded.uow(), incident_id, TZ) is not None
    assert triage_rules.needing_marks(seeded.uow(), ids, TZ, DEFAULT_CHATTER) == []


def test_patterns_and_hyperactive_units_from_the_record(seeded: Database) -> None:
    writer = Writer(seeded)
    for n in range(6):
        writer.press("HP-06", T0 + timedelta(minutes=7 * n))
    writer.press("HP-07", T0)
    for incident in incident_service.open_queue(seeded.uow()):
        incident_service.acknowledge(seeded.uow(), incident["id"], "alice")
        incident_service.close(
            seeded.uow(), incident["id"], "alice", "", Classification.FALSE_MALICIOUS
        )
    start, end = triage_rules.local_day_bounds(T0, TZ)
    assert (start.isoformat(), end.isoformat()) == (
        "2026-12-05T00:00:00+00:00",
        "2026-12-06T00:00:00+00:00",
    )
    patterns = triage_rules.unit_patterns_between(seeded.uow(), start, end, TZ)
    assert [(p["unit_id"], p["alarms"], p["false_share"]) for p in patterns] == [
        ("HP-06", 6, 1.0),
        ("HP-07", 1, 1.0),
    ]
    assert patterns[0]["prank_hours"] == [23]
    assert patterns[0]["unit_name"] != "HP-06"
    hyper = triage_rules.hyperactive_units(seeded.uow(), start, end, TZ, per_day=5)
    assert [u["unit_id"] for u in hyper] == ["HP-06"]
    # The monthly report's period: the same function.
    month = triage_rules.hyperactive_units(
        seeded.uow(), datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC), TZ, 5
    )
    assert month == []


def test_the_worker_marks_alarms_as_they_come_and_the_api_manages_rules(
    server_factory: Any,
) -> None:
    server = server_factory(press_listen=False)
    sue = client(server, "sue", Role.SUPERVISOR)
    alice = client(server, "alice")
    body = {"name": "HP-08 repeats", "mark": "repeat", "unit_id": "HP-08", "voice": "none"}
    assert alice.post("/api/triage/rules", json=body).status_code == 403
    added = sue.post("/api/triage/rules", json=body)
    assert added.status_code == 201, added.text
    assert sue.post("/api/triage/rules", json=body | {"suggest": "medical"}).status_code == 400
    assert sue.post("/api/triage/rules", json=body | {"hour_from": 25}).status_code == 422

    async def scenario() -> dict[str, Any]:
        url = server.base_url.replace("http", "ws") + "/console/ws"
        token = alice.cookies.get("helppoint_session")
        async with connect(url, additional_headers={"Cookie": f"helppoint_session={token}"}) as ws:
            assert json.loads(await ws.recv())["type"] == "snapshot"
            await press(server, "HP-08")
            message = await first_message(
                ws,
                lambda m: m["type"] == "incident" and bool(m["incident"]["mark"]),
                30,
                "the marked incident",
            )
            return dict(message["incident"])

    marked = asyncio.run(scenario())
    assert marked["mark"] == "repeat" and marked["state"] == "new"
    assert sue.get("/api/triage/outcomes").json()[0]["suggested"] == 1
    patterns = sue.get("/api/triage/patterns", params={"hours": 24}).json()
    assert [p["unit_id"] for p in patterns] == ["HP-08"]
    assert sue.get("/api/triage/hyperactive").json() == []
    assert sue.get("/api/triage/hyperactive", params={"day": "2026-13-01"}).status_code == 422
    rule_id = added.json()["id"]
    off = sue.post(f"/api/triage/rules/{rule_id}/active", json={"active": False})
    assert off.json()["active"] is False
    assert sue.post("/api/triage/rules/999/active", json={"active": True}).status_code == 404
