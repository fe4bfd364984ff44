"""'How safe do you feel here?': answers kept anonymously, bad input refused with nothing
stored, one answer per browser per unit per day, floods limited, and the sums the report shows
(docs/survey.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from helppoint.domain import survey as rules
from helppoint.domain.errors import NotFound
from helppoint.services import survey as survey_service
from helppoint.services import survey_limits
from helppoint.services.seed import seed_demo
from helppoint.store.tables_admin import commissioning_runs
from helppoint.store.tables_public import rate_windows, survey_answers
from tests.conftest import Database

# --- The rules ---


def _form(**fields: str | list[str]) -> dict[str, list[str]]:
    return {k: v if isinstance(v, list) else [v] for k, v in fields.items()}


def test_a_good_answer_is_read() -> None:
    assert rules.parse_form(_form(feeling="4")) == rules.Answer(4)
    answer = rules.parse_form(_form(feeling="1", gender="woman", age="18_24", lang="pl"))
    assert answer == rules.Answer(1, rules.Gender.WOMAN, "18_24")
    assert rules.parse_form(_form(feeling="5", gender="", age="")) == rules.Answer(5)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        (_form(), "feeling"),
        (_form(feeling=""), "feeling"),
        (_form(feeling="6"), "feeling"),
        (_form(feeling="0"), "feeling"),
        (_form(feeling="4.0"), "feeling"),
        (_form(feeling=" 4"), "feeling"),
        (_form(feeling="٤"), "feeling"),  # an Arabic-Indic four: a digit to Python, not to us
        (_form(feeling="=1+1"), "feeling"),
        (_form(feeling=["4", "5"]), "feeling"),
        (_form(feeling="4", gender="woman; DROP TABLE"), "gender"),
        (_form(feeling="4", age="33"), "age"),
        (_form(feeling="4", comment="I saw someone"), "form"),
    ],
)
def test_bad_answers_are_refused_naming_the_question(
    fields: dict[str, list[str]], field: str
) -> None:
    with pytest.raises(rules.SurveyRefused) as refused:
        rules.parse_form(fields)
    assert field in {name for name, _ in refused.value.problems}


def test_the_cookie_holds_the_day_and_units_and_odd_cookies_count_as_none() -> None:
    today = date(2026, 12, 6)
    value = rules.cookie_value({"HP-01"}, "HP-05", today)
    assert value == "2026-12-06.HP-01.HP-05"
    assert rules.answered_today(value, today) == {"HP-01", "HP-05"}
    assert rules.answered_today(value, date(2026, 12, 7)) == frozenset()
    for odd in (
        "",
        "x",
        "2026-12-06.",
        "2026-12-06.HP 01",
        "2026-12-06." + "A" * 65,
        "2026-12-06" + ".HP-01" * 41,
        "\udcff",
        "2026-12-06.HP-01\x00",
    ):
        assert rules.answered_today(odd, today) == frozenset(), odd


def test_statistics_of_known_answers() -> None:
    s = rules.stats([5, 4, 4, 2, 1, 5, 3, 4])
    assert s.n == 8 and s.mean == pytest.approx(3.5)
    # Sample standard deviation 1.414…; the 95% interval of the mean is 3.5 ± 0.98.
    assert s.mean_low == pytest.approx(3.5 - 1.959964 * 1.4142136 / 8**0.5, abs=1e-4)
    assert s.safe_share == pytest.approx(5 / 8)
    # Wilson interval for 5 of 8: 0.306 to 0.863.
    assert (s.safe_low, s.safe_high) == (
        pytest.approx(0.3057, abs=1e-3),
        pytest.approx(0.8632, abs=1e-3),
    )
    one = rules.stats([3])
    assert one.mean == 3 and one.mean_low is None and one.safe_share == 0
    assert rules.stats([]).n == 0 and rules.stats([]).mean is None
    assert rules.wilson(0, 10)[0] == 0.0
    assert rules.wilson(10, 10)[1] == pytest.approx(1.0)


def test_the_rate_limiter_counts_per_address_and_per_unit_within_the_hour(
    database: Database,
) -> None:
    limiter = survey_limits.RateLimiter(per_address=2, per_unit=3)
    now = datetime(2026, 12, 6, 21, 40, tzinfo=UTC)

    def check(address: str, unit: str, at: datetime = now) -> None:
        limiter.check(database.uow(), address, unit, at)

    check("a", "HP-01")
    check("a", "HP-02")
    with pytest.raises(survey_limits.RateLimited) as limited:
        check("a", "HP-03")
    assert limited.value.retry_after == 20 * 60 + 1  # until the hour ends
    check("b", "HP-01")
    check("c", "HP-01")
    with pytest.raises(survey_limits.RateLimited):
        check("d", "HP-01")  # the unit's limit
    later = now + timedelta(minutes=25)  # the next hour: counted afresh
    check("a", "HP-01", later)
    check("a", "HP-02", later)
    # A refused answer counted nothing: "d" may still answer for another unit.
    check("d", "HP-04")
    # Another server process (its own limiter) counts with the same rows.
    other = survey_limits.RateLimiter(per_address=2, per_unit=3)
    with pytest.raises(survey_limits.RateLimited):
        other.check(database.uow(), "a", "HP-05", later + timedelta(minutes=1))
    other.check(database.uow(), "e", "HP-05", later)
    with database.engine.connect() as connection:
        rows = connection.execute(select(rate_windows)).all()
    # Addresses are kept as keyed hashes only, and the previous hour's rows are gone once
    # the hour after it has begun (they are kept for the hour just before).
    assert not any(row.key.endswith((":a", ":b", ":c", ":d", ":e")) for row in rows)
    assert all(row.key.startswith(("survey-addr:", "survey-unit:")) for row in rows)
    check("f", "HP-06", now + timedelta(hours=3))
    with database.engine.connect() as connection:
        starts = {row.window_start for row in connection.execute(select(rate_windows))}
    assert starts == {datetime(2026, 12, 7, 0, 0, tzinfo=UTC)}


# --- Over HTTP ---

FORM = {"content-type": "application/x-www-form-urlencoded"}


def _count(server: Any) -> int:
    return survey_service.answer_count(server.database.uow())


def _browser(server: Any, **headers: str) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, timeout=None, headers=headers)


def test_an_answer_is_kept_anonymously_and_counts_once_a_day(live_server: Any) -> None:
    http = _browser(live_server)
    page = http.get("/p/HP-05")
    assert 'action="/p/HP-05/survey"' in page.text and "How safe do you feel here?" in page.text
    sent = http.post(
        "/p/HP-05/survey", content="feeling=2&gender=woman&age=18_24&lang=en", headers=FORM
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == "/p/HP-05?lang=en&answered=1#survey"
    cookie = sent.headers["set-cookie"]
    today = datetime.now(UTC).date().isoformat()
    assert cookie.startswith(f"hp_survey={today}.HP-05;")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/p/" in cookie
    thanks = http.get(sent.headers["location"])
    assert "Thank you. Your answer has been counted." in thanks.text
    assert 'name="feeling"' not in thanks.text
    # What is stored: the answer, the unit, its zone and the hour; nothing else.
    with live_server.database.engine.connect() as connection:
        [row] = connection.execute(select(survey_answers)).mappings().all()
    assert set(row) == {"id", "unit_id", "zone_id", "hour", "feeling", "gender", "age_band"}
    assert (row["unit_id"], row["feeling"], row["gender"], row["age_band"]) == (
        "HP-05",
        2,
        "woman",
        "18_24",
    )
    assert row["hour"].minute == 0 and row["hour"].second == 0
    # The same browser again today: refused, nothing stored; another unit is fine.
    again = http.post("/p/HP-05/survey", content="feeling=5", headers=FORM)
    assert again.status_code == 409
    assert "already answered for this help point today" in again.text
    assert _count(live_server) == 1
    assert http.post("/p/HP-01/survey", content="feeling=5", headers=FORM).status_code == 303
    assert http.cookies.get("hp_survey") == f"{today}.HP-01.HP-05"
    assert _count(live_server) == 2


@pytest.mark.parametrize(
    ("body", "headers", "status", "says"),
    [
        ("", FORM, 400, "Choose how safe you feel here, from 1 to 5."),
        ("feeling=7", FORM, 400, "How safe you feel is a number from 1 to 5."),
        ("feeling=4&comment=hello", FORM, 400, "The form has a field it should not have."),
        ("feeling=4&feeling=5", FORM, 400, "A question was answered more than once."),
        ("feeling=4&age=33", FORM, 400, "Choose one of the age bands given, or none."),
        ("feeling=%ED%A0%80", FORM, 400, "The answer could not be read."),  # lone surrogate
        ("feeling=4&gender=\xff", FORM, 400, "The answer could not be read."),
        ("feeling=4&" + "a=1&" * 20, FORM, 400, "The answer could not be read."),
        ("feeling=4&gender=" + "x" * 2000, FORM, 413, "The answer is too long."),
        ('{"feeling": 4}', {"content-type": "application/json"}, 400, "sent from the form"),
    ],
)
def test_bad_input_is_refused_clearly_and_nothing_is_stored(
    live_server: Any, body: str, headers: dict[str, str], status: int, says: str
) -> None:
    http = _browser(live_server)
    answer = http.post("/p/HP-05/survey", content=body.encode("latin-1"), headers=headers)
    assert answer.status_code == status
    assert says in answer.text
    assert 'role="alert"' in answer.text and "Your answer was not counted" in answer.text
    assert "hp_survey" not in answer.headers.get("set-cookie", "")
    assert answer.headers["cache-control"] == "private, no-store"
    assert _count(live_server) == 0


def test_refusals_are_in_the_visitors_language(live_server: Any) -> None:
    http = _browser(live_server, **{"Accept-Language": "pl"})
    answer = http.post("/p/HP-05/survey", content="feeling=9", headers=FORM)
    assert answer.status_code == 400
    assert "Poczucie bezpieczeństwa to liczba od 1 do 5." in answer.text
    assert _count(live_server) == 0


def test_unknown_unit_and_an_odd_cookie(live_server: Any) -> None:
    http = _browser(live_server)
    assert http.post("/p/HP-99/survey", content="feeling=4", headers=FORM).status_code == 404
    odd = _browser(live_server, Cookie="hp_survey=2026-13-99.HP-05.%00; hp_survey=x")
    assert odd.post("/p/HP-05/survey", content="feeling=4", headers=FORM).status_code == 303
    assert _count(live_server) == 1


def test_a_flood_from_one_address_is_limited(server_factory: Any) -> None:
    server = server_factory(survey_per_address=2)
    for unit_id in ("HP-01", "HP-02"):
        assert (
            _browser(server)
            .post(f"/p/{unit_id}/survey", content="feeling=3", headers=FORM)
            .status_code
            == 303
        )
    limited = _browser(server).post("/p/HP-03/survey", content="feeling=3", headers=FORM)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert "Too many answers have come from here" in limited.text
    assert _count(server) == 2


def test_the_survey_can_be_switched_off(server_factory: Any) -> None:
    server = server_factory(survey=False)
    http = _browser(server)
    assert 'action="/p/HP-05/survey"' not in http.get("/p/HP-05").text
    assert http.post("/p/HP-05/survey", content="feeling=3", headers=FORM).status_code == 404
    assert _count(server) == 0


# --- The sums for the report ---


def _answer(db: Database, unit: str, zone: str, when: datetime, feeling: int, **more: str) -> None:
    with db.engine.begin() as connection:
        connection.execute(
            insert(survey_answers).values(
                unit_id=unit, zone_id=zone, hour=when, feeling=feeling, **more
            )
        )


def test_summary_by_unit_zone_month_hour_and_before_after(database: Database) -> None:
    seed_demo(database.uow())
    with database.uow() as uow:
        zones = {u.id: u.zone_id for u in uow.units.list()}
    start = datetime(2026, 1, 1, tzinfo=UTC)
    # HP-01 installed (commissioned) on 1 March; the scheme date, 1 February, is for the rest.
    with database.engine.begin() as connection:
        connection.execute(
            insert(commissioning_runs).values(
                unit_id="HP-01", started_at=datetime(2026, 3, 1, 9, tzinfo=UTC), started_by="adam"
            )
        )
    for feeling in (1, 2, 2):  # January, evening (18:00 UTC = 18:00 London in winter)
        _answer(database, "HP-01", zones["HP-01"], datetime(2026, 1, 10, 18, tzinfo=UTC), feeling)
    for feeling in (4, 5, 4, 4):  # April, 21:00 London (20:00 UTC in summer time)
        _answer(
            database,
            "HP-01",
            zones["HP-01"],
            datetime(2026, 4, 10, 20, tzinfo=UTC),
            feeling,
            gender="woman",
        )
    _answer(database, "HP-05", zones["HP-05"], datetime(2026, 1, 20, 12, tzinfo=UTC), 3)
    result = survey_service.summary(
        database.uow(), start, start + timedelta(days=365), "Europe/London", date(2026, 2, 1)
    )
    assert result["overall"]["n"] == 8
    assert result["by_unit"]["HP-01"]["n"] == 7 and result["by_unit"]["HP-05"]["n"] == 1
    assert set(result["by_month"]) == {"2026-01", "2026-04"}
    assert result["by_hour"]["21"]["n"] == 4 and result["by_hour"]["18"]["n"] == 3
    assert result["by_gender"]["woman"]["n"] == 4
    assert result["by_gender"]["not_answered"]["n"] == 4
    assert result["installed"]["HP-01"] == "2026-03-01"
    assert result["installed"]["HP-05"] == "2026-02-01"
    assert result["before_after"]["before"]["n"] == 4  # HP-01's three and HP-05's one
    assert result["before_after"]["after"]["n"] == 4
    assert result["before_after"]["after"]["safe_share"] == 1.0
    assert result["before_after_by_unit"]["HP-01 before"]["mean"] == pytest.approx(5 / 3, abs=1e-3)
    low, high = result["by_unit"]["HP-01"]["safe_low"], result["by_unit"]["HP-01"]["safe_high"]
    assert 0 < low < 4 / 7 < high < 1


def test_a_day_with_far_more_answers_than_usual_is_shown(database: Database) -> None:
    seed_demo(database.uow())
    base = datetime(2026, 5, 1, 10, tzinfo=UTC)
    for day in range(6):
        _answer(database, "HP-02", "", base + timedelta(days=day), 4)
    for _ in range(12):
        _answer(database, "HP-02", "", base + timedelta(days=7), 1)
    result = survey_service.summary(
        database.uow(), base - timedelta(days=1), base + timedelta(days=30), "Europe/London"
    )
    assert result["outliers"] == [
        {"unit_id": "HP-02", "day": "2026-05-08", "answers": 12, "median_day": 1, "mean": 1.0}
    ]
    assert result["installed"] == {}
    assert result["before_after"]["before"]["n"] == 0


def test_record_answer_refuses_an_unknown_unit(database: Database) -> None:
    seed_demo(database.uow())
    with pytest.raises(NotFound):
        survey_service.record_answer(database.uow(), "HP-99", rules.Answer(3))
    survey_service.record_answer(database.uow(), "HP-03", rules.Answer(3))
    assert survey_service.answer_count(database.uow()) == 1


def test_the_scheme_report_shows_the_survey_to_supervisors(live_server: Any) -> None:
    from helppoint.domain.model import Role
    from tests.web.test_api import client

    http = _browser(live_server)
    for unit_id, feeling in (("HP-01", "5"), ("HP-02", "=HYPERLINK(1)"), ("HP-03", "4")):
        http.post(f"/p/{unit_id}/survey", content=f"feeling={feeling}", headers=FORM)
    month = datetime.now(UTC).strftime("%Y-%m")
    supervisor = client(live_server, "sue", Role.SUPERVISOR)
    body = supervisor.get(f"/api/reports/survey?from={month}&to={month}").json()
    assert body["overall"]["n"] == 2
    assert set(body["by_unit"]) == {"HP-01", "HP-03"}
    csv = supervisor.get(f"/api/reports/survey.csv?from={month}&to={month}&installed=2026-01-01")
    assert csv.status_code == 200 and csv.text.startswith("group,key,n,mean,")
    assert "by_unit,HP-01,1,5.0," in csv.text
    page = supervisor.get(f"/reports/survey?from={month}&to={month}")
    assert page.status_code == 200 and 'id="survey-by-unit"' in page.text
    bad = supervisor.get("/api/reports/survey?from=2026-13&to=2026-01")
    assert bad.status_code == 400 and "YYYY-MM" in bad.text
    wrong_date = supervisor.get(f"/api/reports/survey?from={month}&to={month}&installed=x")
    assert wrong_date.status_code == 400 and "installed" in wrong_date.text
    assert (
        client(live_server, "otto", Role.OPERATOR)
        .get(f"/api/reports/survey?from={month}&to={month}")
        .status_code
        == 403
    )


def test_the_month_section_for_the_scheme_report(database: Database) -> None:
    from helppoint.domain.reports import Month

    seed_demo(database.uow())
    # 23:00 UTC on 31 May is midnight, 1 June, in London (summer time): June's.
    _answer(database, "HP-01", "", datetime(2026, 5, 31, 23, tzinfo=UTC), 5)
    _answer(database, "HP-01", "", datetime(2026, 5, 31, 21, tzinfo=UTC), 2)
    june = survey_service.month_section(database.uow(), Month(2026, 6), "Europe/London")
    assert june["overall"]["n"] == 1 and june["by_hour"] == {"00": june["overall"]}
    may = survey_service.month_section(database.uow(), Month(2026, 5), "Europe/London")
    assert may["overall"]["n"] == 1 and may["overall"]["mean"] == 2


def test_a_signed_in_browser_answers_with_its_csrf_token(live_server: Any) -> None:
    from helppoint.domain.model import Role
    from tests.web.test_api import client

    operator = client(live_server, "otto", Role.OPERATOR)
    page = operator.get("/p/HP-04")
    assert 'name="csrf_token"' in page.text
    assert page.headers["cache-control"] == "private, no-store"
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    # A plain form post, as the browser sends it: the token in the form, no header.
    form = httpx.Client(base_url=live_server.base_url, timeout=None, cookies=operator.cookies)
    assert form.post("/p/HP-04/survey", data={"feeling": "3"}).status_code == 403
    sent = form.post("/p/HP-04/survey", data={"feeling": "3", "csrf_token": token})
    assert sent.status_code == 303
    assert _count(live_server) == 1
    # A page for nobody in particular carries no token and may be cached.
    anonymous = _browser(live_server).get("/p/HP-04")
    assert "csrf_token" not in anonymous.text
    assert anonymous.headers["cache-control"].startswith("public")
