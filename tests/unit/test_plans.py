"""Trigger plans in pure Python: reading YAML, every kind of bad plan, windows, rule choice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from helppoint.domain.classification import Classification as C
from helppoint.domain.plans import ActionKind, Channel, PlanInvalid, PlanScope
from helppoint.services.plan_yaml import dump_plan, read_plan

GOOD = """\
# Town centre: the police trigger plan
plan: Town centre
zone: town-centre
timezone: Europe/London
police:
  urn: NP-2026-0042
  phone: "101"
windows:
  night:
    days: [fri, sat]
    from: "20:00"
    to: "04:00"
rules:
  - when: imminent_threat
    actions:
      - notify: police
        channel: webhook
        to: https://cad.police.example/alerts
        template: "Help point {unit_name}: {classification} ({ref})"
        ack_within: 120
      - notify: police
        channel: phone
        to: "+44 1604 888 111"
        template: "Call the police: URN {police_urn}, {ref}"
  - when: [concern, medical]
    window: night
    actions:
      - notify: site_security
        channel: email
        to: security@bid.example
        template: "{ref} at {unit_name}"
        ack_within: 300
  - when: [concern, medical]
    actions:
      - notify: supervisor
        channel: console
        template: "{ref}: {classification}"
"""


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the first occurrence of `needle`."""
    return text[: text.index(needle)].count("\n") + 1


def problems(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(PlanInvalid) as info:
        read_plan(text)
    return [(p.line, p.where, p.message) for p in info.value.problems]


def only(text: str) -> tuple[int | None, str, str]:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


def test_a_good_plan_reads() -> None:
    plan = read_plan(GOOD)
    assert (plan.name, plan.scope, plan.target_id) == ("Town centre", PlanScope.ZONE, "town-centre")
    assert plan.police is not None and plan.police.phone == "101"
    [webhook, phone] = plan.actions_for(C.IMMINENT_THREAT, datetime.now(UTC))
    assert (webhook.kind, webhook.channel, webhook.ack_within) == (
        ActionKind.POLICE,
        Channel.WEBHOOK,
        timedelta(seconds=120),
    )
    assert phone.channel is Channel.PHONE and not phone.channel.automatic
    assert plan.actions_for(C.FALSE_ACCIDENTAL, datetime.now(UTC)) == ()


def test_export_reads_back_to_the_same_plan() -> None:
    plan = read_plan(GOOD)
    assert read_plan(dump_plan(plan)) == plan


def test_time_windows_choose_the_rule_including_past_midnight() -> None:
    plan = read_plan(GOOD)
    # 2026-11-27 is a Friday; London is on UTC in November.
    friday_night = datetime(2026, 11, 27, 22, 0, tzinfo=UTC)
    saturday_small_hours = datetime(2026, 11, 28, 3, 59, tzinfo=UTC)
    saturday_morning = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
    thursday_night = datetime(2026, 11, 26, 22, 0, tzinfo=UTC)
    friday_small_hours = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # Thursday's night: no
    kinds = {
        at: plan.actions_for(C.CONCERN, at)[0].kind
        for at in (
            friday_night,
            saturday_small_hours,
            saturday_morning,
            thursday_night,
            friday_small_hours,
        )
    }
    assert kinds == {
        friday_night: ActionKind.SITE_SECURITY,
        saturday_small_hours: ActionKind.SITE_SECURITY,
        saturday_morning: ActionKind.SUPERVISOR,
        thursday_night: ActionKind.SUPERVISOR,
        friday_small_hours: ActionKind.SUPERVISOR,
    }


def test_windows_follow_the_plan_time_zone() -> None:
    plan = read_plan(GOOD)
    # 2026-07-03 is a Friday; 19:30 UTC is 20:30 in London (BST).
    assert plan.actions_for(C.MEDICAL, datetime(2026, 7, 3, 19, 30, tzinfo=UTC))[0].kind is (
        ActionKind.SITE_SECURITY
    )


def test_yaml_syntax_error_names_the_line() -> None:
    line, _, message = only("plan: x\nzone: a\nrules: [\n  - when: b\n")
    assert line is not None and line >= 3 and "not valid YAML" in message


def test_tabs_and_bad_indentation_are_syntax_errors() -> None:
    line, _, message = only("plan: x\nzone: a\n\trules: []\n")
    assert line == 3 and "not valid YAML" in message


#: Under 300 bytes that a reader expanding aliases turns into 9^6 = 531,441 leaves (the
#: review's 321 bytes made a million nodes).
ALIAS_BOMB = "plan: x\nzone: town-centre\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
    for prev, name in zip(
        ["", "a", "b", "c", "d", "e"], ["a", "b", "c", "d", "e", "f"], strict=True
    )
)


@pytest.mark.parametrize(
    ("text", "line", "alias"),
    [
        ("plan: x\nzone: town-centre\nrules: &r [*r]\n", 3, "*r"),  # a cycle
        ("plan: x\nzone: &z {a: *z}\n", 2, "*z"),
        (ALIAS_BOMB, 4, "*a"),
        (  # a merge key is an alias too
            GOOD.replace("rules:", "base: &p {notify: police}\nrules:") + "  - <<: *p\n",
            GOOD.count("\n") + 2,
            "*p",
        ),
    ],
)
def test_aliases_are_refused_with_their_line(text: str, line: int, alias: str) -> None:
    assert only(text) == (
        line,
        "",
        f"aliases ({alias}) are not allowed in a plan file; write the value out where it is needed",
    )


def test_nesting_is_bounded() -> None:
    assert only("plan: x\nzone: [" + "[" * 100_000 + "\n") == (
        2,
        "",
        "nested more than 20 levels deep",
    )


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_an_empty_file_is_refused(text: str) -> None:
    assert only(text) == (None, "", "the file is empty")


def test_not_a_mapping() -> None:
    assert "must be a mapping" in only("- a\n- b\n")[2]


def test_two_documents_are_refused() -> None:
    line, _, message = only(GOOD + "---\nplan: second\n")
    assert line == GOOD.count("\n") + 2 and "one plan per file" in message


def test_unknown_key_names_it_with_its_line() -> None:
    text = GOOD.replace("        ack_within: 120", "        acknowledge_within: 120")
    line, where, message = only(text)
    assert line == line_of(text, "acknowledge_within")
    assert where == "rules[0].actions[0].acknowledge_within"
    assert "unknown key 'acknowledge_within'" in message and "ack_within" in message


def test_duplicate_key() -> None:
    line, where, message = only(GOOD.replace("plan: Town centre\n", "plan: A\nplan: B\n"))
    assert (line, where) == (3, "plan") and "appears twice" in message  # the second one


def test_missing_required_keys() -> None:
    found = problems("zone: a\n")
    assert {m for _, _, m in found} == {
        "missing required key 'plan'",
        "missing required key 'rules'",
    }
    text = GOOD.replace('        template: "{ref} at {unit_name}"\n', "")
    line, where, message = only(text)
    assert line == line_of(text, "- notify: site_security")
    assert (where, message) == ("rules[1].actions[0]", "missing required key 'template'")


def test_zone_or_unit_exactly_once() -> None:
    assert "exactly one of" in only(GOOD.replace("zone: town-centre\n", ""))[2]
    assert "exactly one of" in only(GOOD.replace("zone: town-centre\n", "zone: a\nunit: b\n"))[2]


def test_unknown_classification_action_and_channel() -> None:
    text = (
        GOOD.replace("- when: imminent_threat", "- when: imminent_thread")
        .replace("notify: site_security", "notify: bouncers")
        .replace("channel: email", "channel: fax")
    )
    found = problems(text)
    assert [(line, where) for line, where, _ in found] == [
        (line_of(text, "imminent_thread"), "rules[0].when"),
        (line_of(text, "bouncers"), "rules[1].actions[0].notify"),
        (line_of(text, "fax"), "rules[1].actions[0].channel"),
    ]
    assert "unknown value 'imminent_thread'; use one of: imminent_threat" in found[0][2]


def test_bad_template_placeholder_and_braces() -> None:
    line, where, message = only(GOOD.replace("({ref})", "({reference})"))
    assert (line, where) == (line_of(GOOD, "({ref})"), "rules[0].actions[0].template")
    assert "unknown placeholder {reference}" in message
    assert "bad braces" in only(GOOD.replace("({ref})", "({ref)"))[2]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", "between 1 and 86400"),
        ("90000", "between 1 and 86400"),
        ("2m", "whole number of seconds"),
        ("1.5", "whole number of seconds"),
        ("true", "whole number of seconds"),
    ],
)
def test_bad_acknowledgement_deadline(value: str, expected: str) -> None:
    line, where, message = only(GOOD.replace("ack_within: 120", f"ack_within: {value}"))
    assert (line, where) == (line_of(GOOD, "ack_within: 120"), "rules[0].actions[0].ack_within")
    assert expected in message


@pytest.mark.parametrize(
    ("channel", "to", "expected"),
    [
        ("webhook", "http://cad.police.example/x", "must use https://"),
        ("cap", "not a url", "is not a URL"),
        ("email", "security-at-bid", "not an email address"),
        ("phone", "call bob", "not a telephone number"),
        ("console", "someone", "leave out 'to'"),
    ],
)
def test_bad_targets(channel: str, to: str, expected: str) -> None:
    text = GOOD.replace("channel: webhook", f"channel: {channel}").replace(
        "to: https://cad.police.example/alerts", f'to: "{to}"'
    )
    line, where, message = only(text)
    assert (line, where) == (line_of(GOOD, "to: https://cad"), "rules[0].actions[0].to")
    assert expected in message


def test_missing_target() -> None:
    text = GOOD.replace("        to: https://cad.police.example/alerts\n", "")
    line, where, message = only(text)
    # A missing key is reported at its action.
    assert (line, where) == (line_of(text, "- notify: police"), "rules[0].actions[0].to")
    assert "needs 'to'" in message


def test_plain_http_only_to_this_machine() -> None:
    text = GOOD.replace("https://cad.police.example/alerts", "http://127.0.0.1:9000/cad")
    assert read_plan(text).rules[0].actions[0].target == "http://127.0.0.1:9000/cad"


@pytest.mark.parametrize(
    ("old", "new", "at", "expected"),
    [
        ('from: "20:00"', 'from: "25:00"', "25:00", "not a time of day as HH:MM"),
        ("days: [fri, sat]", "days: [fri, caturday]", "caturday", "'caturday' is not a day"),
        ("days: [fri, sat]", "days: []", "days: []", "must be a list of days"),
        ('to: "04:00"', 'to: "20:00"', "night:", "the window would be empty"),
        ("window: night", "window: nights", "nights", "unknown window 'nights'; known: night"),
        ("timezone: Europe/London", "timezone: Europe/Nhampton", "Nhampton", "unknown time zone"),
        ('phone: "101"', "phone: call us", "call us", "not a telephone number"),
    ],
)
def test_bad_windows_zone_and_police(old: str, new: str, at: str, expected: str) -> None:
    text = GOOD.replace(old, new)
    found = only(text)
    assert found[0] == line_of(text, at) and expected in found[2], found


def test_unquoted_clock_times_are_text() -> None:
    # An unquoted 20:00 is read as text, not as YAML 1.1's sexagesimal number 1200.
    assert read_plan(GOOD.replace('from: "20:00"', "from: 20:00")) == read_plan(GOOD)


def test_a_rule_that_can_never_apply() -> None:
    text = GOOD.replace(
        "  - when: [concern, medical]\n    window: night\n", "  - when: [medical]\n"
    )
    line, where, message = only(text)
    assert where == "rules[2].when" and line == line_of(text, "- when: [concern, medical]")
    assert "medical is already handled at all times by rule 2" in message


def test_every_problem_is_reported_at_once() -> None:
    text = GOOD.replace("ack_within: 120", "ack_within: soon").replace(
        "channel: email", "channel: pigeon"
    )
    assert len(problems(text)) == 2


def test_norway_is_text() -> None:
    text = GOOD.replace("plan: Town centre", "plan: no")
    assert read_plan(text).name == "no"


def test_error_message_lists_lines() -> None:
    line = line_of(GOOD, "ack_within: 120")
    with pytest.raises(PlanInvalid, match=rf"line {line} \(rules\[0\]\.actions\[0\]\.ack_within\)"):
        read_plan(GOOD.replace("ack_within: 120", "ack_within: soon"))
