"""A year of realistic history for the demo and for trying the reports (docs/reports.md).

Everything goes through the product's own services, as the console and the units would have
done it, with the services' clock set to each moment (services/clock.replaying_at): presses
through ingest (repeat presses join), false ones weeded out, genuine ones acknowledged,
classified, escalated under the trigger plan (its notifications delivered), the police called,
acknowledging with a reference and arriving on scene; outages through the supervision sweep
(heartbeats, a unit falling silent, coming back); an intervention at the unit pranked most,
after which it is pranked less. Deterministic for a given seed.

The volume follows the reference scheme (about 4,500 activations a year over eight units,
over 99% false, a dozen or so genuine): `per_day` sets it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from helppoint.domain.classification import Category, Classification
from helppoint.domain.errors import InvalidInput, InvalidTransition
from helppoint.domain.events import EventType
from helppoint.services import incidents, notifications, police, supervision
from helppoint.services.clock import replaying_at, utcnow
from helppoint.services.ingest import ReportedEvent, handle_device_events
from helppoint.services.reports import add_intervention
from helppoint.store.uow import UnitOfWork

C = Classification
JOIN_WINDOW = timedelta(minutes=5)
LOCAL = ZoneInfo("Europe/London")
#: Per 10,000 activations (the reference scheme: over 99% false).
WEIGHTS = {
    C.FALSE_ACCIDENTAL: 5600,
    C.FALSE_MALICIOUS: 2900,
    C.FALSE_TEST: 1000,
    C.TECHNICAL: 200,
    C.SILENT: 260,
    C.CONCERN: 12,
    C.IMMINENT_THREAT: 12,
    C.MEDICAL: 8,
    C.INFORMATION: 8,
}
#: How busy each hour of the local day is (evenings and the night-time economy).
HOURS = [3, 2, 2, 1, 1, 1, 1, 2, 3, 3, 3, 3, 4, 4, 4, 5, 6, 6, 6, 7, 8, 8, 7, 5]
INTERVENTION = "New signage: misuse of the help point is an offence"


@dataclass(frozen=True)
class HistorySummary:
    """What was filled."""

    first: datetime
    last: datetime
    activations: int
    presses: int
    genuine: int
    escalated: int
    police_called: int
    outages: int
    intervention_unit: str


@dataclass(frozen=True)
class _Press:
    at: datetime
    unit: str
    kind: Classification
    answer: float
    repeat: bool


def _presses(
    rng: random.Random, units: list[str], start: datetime, days: int, per_day: float
) -> tuple[list[_Press], str, datetime]:
    """The year's presses, and the unit and day of the intervention."""
    # Units differ: the busiest (the town centre's square) is pranked most at weekend nights.
    weights = [
        1.0 + (3.0 if i == len(units) // 2 else 0.0) + (i % 3) * 0.4 for i in range(len(units))
    ]
    hotspot = units[len(units) // 2]
    intervention_day = start + timedelta(days=int(days * 0.6))
    presses = []
    kinds, kind_weights = zip(*WEIGHTS.items(), strict=True)
    first_day = start.astimezone(LOCAL).date()
    for day in range(days + 1):
        # Local midnight: the hours of the day are the scheme's local hours.
        local = datetime.combine(first_day + timedelta(days=day), time(), LOCAL)
        weekend = local.weekday() >= 4
        count = _poisson(rng, per_day * (1.3 if weekend else 0.88))
        for _ in range(count):
            unit = rng.choices(units, weights)[0]
            hour = rng.choices(range(24), HOURS)[0]
            at = (local + timedelta(hours=hour, seconds=rng.randrange(3600))).astimezone(UTC)
            if not start <= at < start + timedelta(days=days):
                continue
            kind = rng.choices(kinds, kind_weights)[0]
            # Pranks at the hotspot on weekend nights, fewer once the new signs are up.
            night = hour >= 20 or hour < 4
            prank = unit == hotspot and weekend and night and rng.random() < 0.5
            if prank and (at < intervention_day or rng.random() < 0.35):
                kind = C.FALSE_MALICIOUS
            late = rng.random() < 0.004  # answered late: fails the targets
            answer = rng.uniform(90, 600) if late else max(2.0, rng.expovariate(1 / 11))
            presses.append(_Press(at, unit, kind, answer, rng.random() < 0.1))
    presses.sort(key=lambda p: p.at)
    return presses, hotspot, intervention_day


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def fill_history(
    uow_factory: Callable[[], UnitOfWork],
    until: datetime,
    days: int = 365,
    per_day: float = 12.5,
    seed: int = 23,
    operator: str = "demo",
    progress: Callable[[int, int], None] | None = None,
) -> HistorySummary:
    """Fill `days` days of history ending at `until` into a scheme with units and trigger plans
    (seed_demo and ensure_demo_plans) and no incidents yet; InvalidInput otherwise."""
    if not 1 <= days <= 3 * 366 or not 0 < per_day <= 500:
        raise InvalidInput("history is 1 to 1098 days of 0 to 500 activations a day")
    with uow_factory() as uow:
        units = [u.id for u in uow.units.list()]
        existing = uow.incidents.count()
    if not units:
        raise InvalidInput("add the units first (helppoint seed makes the demo's eight)")
    if existing:
        raise InvalidInput("this database already has incidents: history goes into a new one")
    rng = random.Random(seed)
    start = (until - timedelta(days=days)).astimezone(UTC).replace(microsecond=0)
    presses, hotspot, intervention_day = _presses(rng, units, start, days, per_day)
    outages = _outages(rng, units, start, days)
    seqs: dict[str, int] = {}

    def report(unit_events: list[tuple[str, EventType]], at: datetime) -> list[int | None]:
        with replaying_at(at), uow_factory() as uow:
            events = []
            for unit, kind in unit_events:
                seqs[unit] = seqs.get(unit, 0) + 1
                events.append(ReportedEvent(unit, seqs[unit], kind, at, {}))
            results = handle_device_events(uow, events, at, JOIN_WINDOW)
            uow.commit()
        return [r.incident_id for r in results]

    report([(unit, EventType.HEARTBEAT) for unit in units], start)  # first heard
    genuine = escalated = called = 0
    down_until: dict[str, datetime] = {}
    outage_queue = sorted(outages)
    intervention_done = False
    for number, press in enumerate(presses):
        while outage_queue and outage_queue[0][0] <= press.at:
            begin, end, unit = outage_queue.pop(0)
            _outage(uow_factory, report, units, unit, begin, end)
            down_until[unit] = end
        if not intervention_done and press.at >= intervention_day:
            add_intervention(uow_factory(), hotspot, intervention_day.astimezone(LOCAL).date(),
                             INTERVENTION, operator, press.at)  # fmt: skip
            intervention_done = True
        if press.at < down_until.get(press.unit, start):
            continue  # a unit that is down sends nothing
        [incident_id] = report([(press.unit, EventType.ACTIVATION)], press.at)
        assert incident_id is not None
        if press.repeat:
            report([(press.unit, EventType.ACTIVATION)], press.at + timedelta(seconds=8))
        outcome = _handle(uow_factory, incident_id, press, operator, rng)
        genuine += press.kind.category is Category.GENUINE
        escalated += outcome >= 1
        called += outcome == 2
        if progress is not None and number % 250 == 0:
            progress(number, len(presses))
    for begin, end, unit in outage_queue:
        if end <= until:
            _outage(uow_factory, report, units, unit, begin, end)
    # Every unit heard once more at the end (now, if that is later: filling takes a while), so
    # a server started straight after does not report them all down before they connect.
    report([(unit, EventType.HEARTBEAT) for unit in units], max(until, utcnow()))
    with uow_factory() as uow:
        activation_count, press_count = uow.incidents.activation_totals()
    return HistorySummary(
        first=start,
        last=presses[-1].at if presses else start,
        activations=activation_count,
        presses=press_count,
        genuine=genuine,
        escalated=escalated,
        police_called=called,
        outages=len(outages),
        intervention_unit=hotspot,
    )


def _outages(
    rng: random.Random, units: list[str], start: datetime, days: int
) -> list[tuple[datetime, datetime, str]]:
    """About one outage a month, of an hour to a day and a half, never two at once."""
    outages: list[tuple[datetime, datetime, str]] = []
    for month in range(max(1, days // 30)):
        begin = start + timedelta(days=month * 30 + rng.uniform(1, 28))
        length = timedelta(hours=min(36.0, 1 + rng.expovariate(1 / 6)))
        outages.append((begin, begin + length, rng.choice(units)))
    return outages


def _outage(
    uow_factory: Callable[[], UnitOfWork],
    report: Callable[[list[tuple[str, EventType]], datetime], list[int | None]],
    units: list[str],
    unit: str,
    begin: datetime,
    end: datetime,
) -> None:
    """A unit falls silent: the others' heartbeats come, the sweep reports it down; at `end`
    it is heard again and the next sweep reports it back."""
    others = [(u, EventType.HEARTBEAT) for u in units if u != unit]
    report(others, begin - timedelta(seconds=1))
    with replaying_at(begin):
        supervision.sweep(uow_factory(), begin)
    report([(u, EventType.HEARTBEAT) for u in units], end)
    with replaying_at(end):
        supervision.sweep(uow_factory(), end)


def _handle(
    uow_factory: Callable[[], UnitOfWork],
    incident_id: int,
    press: _Press,
    operator: str,
    rng: random.Random,
) -> int:
    """The operator's handling; 0, 1 when escalated, 2 when the police were called too."""
    answered = press.at + timedelta(seconds=press.answer)
    kind = press.kind
    if kind.category is Category.FALSE:
        with replaying_at(answered + timedelta(seconds=20)):
            incidents.weed_out(uow_factory(), incident_id, operator, kind, confirmed=True)
        return 0
    with replaying_at(answered):
        incidents.acknowledge(uow_factory(), incident_id, operator)
    talked = answered + timedelta(seconds=rng.uniform(30, 120))
    with replaying_at(talked):
        incidents.classify(uow_factory(), incident_id, kind, operator)
    outcome = 0
    if kind in (C.IMMINENT_THREAT, C.MEDICAL):
        at = talked + timedelta(seconds=20)
        with replaying_at(at):
            view = notifications.escalate(uow_factory(), incident_id, operator)
        for notification in view["notifications"]:
            notifications.record_delivered(uow_factory(), notification["id"], at)
        outcome = 1
        if kind is C.IMMINENT_THREAT:
            with replaying_at(at + timedelta(seconds=15)), suppress(InvalidTransition):
                # (unless the plan's automatic police action recorded the call already)
                police.police_called(uow_factory(), incident_id, operator)
            with replaying_at(at + timedelta(seconds=75)):
                police.police_acknowledge(
                    uow_factory(), incident_id, "police-control", f"NP-{incident_id:06d}"
                )
            if rng.random() < 0.85:  # most attended
                arrived = at + timedelta(minutes=rng.uniform(6, 25))
                with replaying_at(arrived):
                    police.police_on_scene(uow_factory(), incident_id, operator)
            outcome = 2
    closing = {
        C.IMMINENT_THREAT: "police attended; caller safe",
        C.MEDICAL: "ambulance called",
        C.CONCERN: "advice given",
        C.INFORMATION: "directions given",
        C.TECHNICAL: "fault reported to maintenance",
        C.SILENT: "no one answered on the speaker",
    }.get(kind, "")
    with replaying_at(talked + timedelta(minutes=25)):
        incidents.close(uow_factory(), incident_id, operator, closing)
    return outcome
