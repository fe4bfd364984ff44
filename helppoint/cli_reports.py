"""`helppoint report | print | crime | evaluate`: scheme reports, printables, impact evaluation."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from helppoint.i18n import shipped


def _write(path: str, content: bytes | str) -> None:
    data = content.encode() if isinstance(content, str) else content
    Path(path).write_bytes(data)
    print(f"written {path} ({len(data):,} bytes)")


def cmd_report(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.domain.reports import CostInputs, parse_period
    from helppoint.printables.report import report_pdf
    from helppoint.services.reports import (
        build_monthly_report,
        report_csv,
        report_settings,
        report_view,
    )
    from helppoint.services.sla import scheme_targets

    settings = command_settings(args)
    stored = report_settings(unit_of_work(settings))
    costs = CostInputs(
        stored.costs.capital if args.capital is None else args.capital,
        stored.costs.capital_months if args.capital_months is None else args.capital_months,
        stored.costs.monitoring_per_month if args.monitoring is None else args.monitoring,
    )
    report = build_monthly_report(
        unit_of_work(settings),
        parse_period(args.month),
        costs,
        args.timezone,
        scheme_targets(settings),
    )
    if args.pdf:
        _write(args.pdf, report_pdf(report, stored.scheme_name))
    if args.csv:
        _write(args.csv, report_csv(report))
    if not args.pdf and not args.csv:
        json.dump(report_view(report), sys.stdout, indent=2)
        print()
    return 0


def cmd_print(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.domain.errors import InvalidInput
    from helppoint.printables.leaflet import leaflet_pdf
    from helppoint.printables.sign import sign_pdf
    from helppoint.services import public

    settings = command_settings(args)
    base = args.base_url or settings.public_url
    if not base:
        # InvalidInput, not cli.CommandError: under `python -m helppoint.cli` that class
        # is __main__'s, so main() would not recognise one imported from helppoint.cli.
        raise InvalidInput("say where the public pages are: --base-url or HELPPOINT_PUBLIC_URL")
    args.lang = args.lang or settings.public_default_language
    units = public.public_units(unit_of_work(settings))
    if args.unit:  # only these (each must exist), for signs and the leaflet alike
        units = [public.public_unit(unit_of_work(settings), unit_id) for unit_id in args.unit]
    if args.what == "leaflet":
        routes = public.list_routes(unit_of_work(settings))
        content = leaflet_pdf(
            units, routes, base, args.title, args.lang, settings.public_default_language
        )
    elif args.what == "here":
        content = _here(args, settings, units, base)
    else:
        content = sign_pdf(units, base, args.lang, settings.public_default_language)
    _write(args.output, content)
    return 0


def _here(args: argparse.Namespace, settings: Any, units: Any, base: str) -> bytes:
    """A "you are here" map for --at LAT,LON (and --place NAME), docs/public-pages.md."""
    from helppoint.cli_context import unit_of_work
    from helppoint.domain.errors import InvalidInput
    from helppoint.printables.here import here_pdf, refusal
    from helppoint.services import public

    try:
        lat_text, lon_text = (args.at or "").split(",")
        latitude, longitude = float(lat_text), float(lon_text)
    except ValueError:
        raise InvalidInput("say where: --at LAT,LON, e.g. --at 52.2468,-0.8841") from None
    name = (args.place or "").strip()
    reason = refusal(latitude, longitude, name, units, settings.place_max_km)
    if reason:
        raise InvalidInput(reason)
    routes = public.list_routes(unit_of_work(settings))
    return here_pdf(
        latitude,
        longitude,
        name,
        units,
        routes,
        base,
        args.lang,
        settings.public_default_language,
    )


def cmd_crime_import(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.crime_import import ImportProgress, import_crime_file

    settings = command_settings(args)

    def show(progress: ImportProgress) -> None:
        share = f" ({progress.fraction:.0%})" if progress.fraction is not None else ""
        print(f"  {progress.name}: {progress.phase} {progress.rows:,} rows{share}", file=sys.stderr)

    for name in args.files:
        result = import_crime_file(unit_of_work(settings), Path(name), None if args.quiet else show)
        months = ", ".join(f"{m:%Y-%m}" for m in sorted(result.months))
        print(
            f"{name}: {result.imported:,} crimes imported ({months}); "
            f"{result.without_location:,} without a location skipped"
        )
    return 0


def cmd_crime_types(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.evaluation import crime_types

    for kind, count in crime_types(unit_of_work(command_settings(args))):
        print(f"{count:>9,}  {kind}")
    return 0


def _month(text: str) -> date:
    from helppoint.domain.reports import Month

    month = Month.parse(text)
    return date(month.year, month.month, 1)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.evaluation import evaluate_scheme, evaluation_view, parse_place

    result = evaluate_scheme(
        unit_of_work(command_settings(args)),
        args.type,
        args.radius,
        _month(args.installed),
        [parse_place(text) for text in args.compare],
        args.unit or None,
        args.confidence,
    )
    if args.json:
        json.dump(evaluation_view(result), sys.stdout, indent=2)
        print()
        return 0
    print(
        f"{', '.join(result.crime_types)} within {result.radius_m:g} m; "
        f"{len(result.months_before)} months before and {len(result.months_after)} after "
        f"{result.installed:%Y-%m}"
    )
    for counts in result.areas:
        kind = "help point" if counts.area.treated else "comparison"
        print(f"  {counts.area.name:28} {kind:10} before {counts.before:6}  after {counts.after:6}")
    print(result.summary())
    print(f"Caveat: {result.caveat}")
    return 0


def cmd_seed_history(args: argparse.Namespace) -> int:
    from helppoint.cli_context import command_settings, unit_of_work
    from helppoint.services.clock import utcnow
    from helppoint.services.history import fill_history
    from helppoint.services.plans import ensure_demo_plans
    from helppoint.services.seed import seed_demo
    from helppoint.store.database import make_engine
    from helppoint.store.migrate import upgrade

    settings = command_settings(args)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    with unit_of_work(settings) as uow:
        has_units = bool(uow.units.list())
    if not has_units:
        seed_demo(unit_of_work(settings))
        print("added the demo's eight units in two zones")
    ensure_demo_plans(lambda: unit_of_work(settings))
    summary = fill_history(
        lambda: unit_of_work(settings),
        utcnow(),
        args.days,
        args.per_day,
        args.seed,
        progress=lambda done, total: print(f"  {done:,} of {total:,} presses", file=sys.stderr),
    )
    print(
        f"history from {summary.first:%Y-%m-%d} to {summary.last:%Y-%m-%d}: "
        f"{summary.activations:,} activations ({summary.presses:,} presses), "
        f"{summary.genuine} genuine, {summary.escalated} escalated, police called to "
        f"{summary.police_called}, {summary.outages} outages, new signage at "
        f"{summary.intervention_unit}"
    )
    return 0


def add_commands(sub: Any, db: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register the report, seed-history, print, crime and evaluate commands."""
    p = sub.add_parser(
        "report",
        help="the monthly or yearly scheme report (JSON, or --pdf / --csv files)",
        description="Activations by unit and zone, hour of week, classifications, answer "
        "times against the scheme's targets (sla_targets; unanswered count as failures), "
        "police outcomes, uptime of supervised time, cost per genuine activation, trends. "
        "Costs are the stored ones (report-settings) unless given. See docs/reports.md.",
    )
    db(p)
    p.add_argument("month", help="YYYY-MM for a month, YYYY for a year")
    p.add_argument("--pdf", help="write the PDF report here")
    p.add_argument("--csv", help="write the CSV report here")
    p.add_argument("--capital", type=float, help="what-if capital cost (default: stored)")
    p.add_argument("--capital-months", type=int, help="what-if months to spread it over")
    p.add_argument("--monitoring", type=float, help="what-if monitoring cost per month")
    p.add_argument("--timezone", default="Europe/London", help="scheme time zone")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "seed-history",
        help="fill a new database with a year of realistic history (demo, trying reports)",
        description="Presses, answers, classifications, escalations, police responses, outages "
        "and an intervention, written through the product's own services with the times they "
        "would have had, ending now. Adds the demo's units and plans if there are no units; "
        "refused when the database already has incidents. See docs/reports.md.",
    )
    db(p)
    p.add_argument("--days", type=int, default=365, help="days of history (default 365)")
    p.add_argument(
        "--per-day", type=float, default=12.5, help="activations a day on average (default 12.5)"
    )
    p.add_argument("--seed", type=int, default=23, help="random seed (default 23)")
    p.set_defaults(func=cmd_seed_history)

    p = sub.add_parser(
        "print",
        help="printable signs (one A4 page per unit), the leaflet map or a 'you are here' map, "
        "as PDF",
        description="See docs/public-pages.md. QR codes point at --base-url/p/ID.",
    )
    db(p)
    p.add_argument("what", choices=("signs", "leaflet", "here"))
    p.add_argument("-o", "--output", required=True, help="PDF file to write")
    p.add_argument("--base-url", help="public address (default HELPPOINT_PUBLIC_URL)")
    p.add_argument(
        "--unit",
        action="append",
        help="only this unit (repeatable): its sign, or only these units on the leaflet",
    )
    p.add_argument("--title", default=None, help="leaflet title (default: translated)")
    p.add_argument("--at", help="here: the place, LAT,LON (e.g. a park entrance)")
    p.add_argument("--place", help="here: the place's name, printed under YOU ARE HERE")
    p.add_argument(
        "--lang",
        default=None,
        choices=shipped(),
        help="language of the signs, leaflet or map (default: the scheme's"
        " public_default_language; a QR code on a print in another language opens the page"
        " in that language; docs/i18n.md)",
    )
    p.set_defaults(func=cmd_print)

    crime = sub.add_parser("crime", help="police.uk street-level crime data").add_subparsers(
        dest="crime_command", metavar="ACTION", required=True
    )
    p = crime.add_parser(
        "import",
        help="import police.uk street-level crime CSV files",
        description="Each file is checked completely first: a malformed file is refused with "
        "its problems and their line numbers, and nothing from it is stored. Importing a "
        "force's month again replaces it. See docs/evaluation.md.",
    )
    db(p)
    p.add_argument("files", nargs="+", help="e.g. 2026-10-northamptonshire-street.csv")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_crime_import)
    p = crime.add_parser("types", help="crime types imported, with counts")
    db(p)
    p.set_defaults(func=cmd_crime_types)

    p = sub.add_parser(
        "evaluate",
        help="difference-in-differences estimate of crime near the help points",
        description="Counts the chosen crime types within a radius of each help point and "
        "of each comparison place, before and after installation, and estimates the "
        "difference in differences with a confidence interval. See docs/evaluation.md.",
    )
    db(p)
    p.add_argument("--type", action="append", required=True, help="crime type (repeatable)")
    p.add_argument("--installed", required=True, help="installation month, YYYY-MM")
    p.add_argument(
        "--compare", action="append", required=True, help="comparison place NAME:LAT,LON"
    )
    p.add_argument("--radius", type=float, default=200, help="metres (default 200)")
    p.add_argument("--unit", action="append", help="only these units (default all)")
    p.add_argument("--confidence", type=float, default=0.95, help="default 0.95")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_evaluate)
