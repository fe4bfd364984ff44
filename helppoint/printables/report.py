"""The monthly or yearly report as a designed PDF (see docs/reports.md).

A cover (scheme, period, when generated), a one-page summary a councillor reads in a minute
(the headline figures against the previous month and the same month last year, in words and
in a table), then the detail: answer times, police outcomes, where and when the activations
and the false ones come from, trends, uptime, costs, interventions and notes. Every page but
the cover says the scheme, the period and "page N of M". Text flows (reportlab's platypus):
long notes wrap and tables split over pages instead of being cut off. Charts are matplotlib,
sized to their content (a bar per unit), with every bar's value written beside it and units
named, not only numbered.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

# The object-oriented Figure, not pyplot: no global state, safe in a threaded server.
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Frame,
    Image,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from helppoint.domain.reports import DAYS, MonthlyReport
from helppoint.printables.fonts import register
from helppoint.services.reports import report_view

CHART_DPI = 130
BLUE = colors.HexColor("#0b4fa8")
INK = colors.HexColor("#1b1f24")
GREY = colors.HexColor("#5b6370")
PALE = colors.HexColor("#eef3fa")
GREEN = colors.HexColor("#14692f")
RED = colors.HexColor("#a1161b")
MARGIN = 18 * mm
WIDTH, HEIGHT = A4
TEXT_WIDTH = WIDTH - 2 * MARGIN
CATEGORY_COLOURS = {
    "genuine": "#14692f",
    "false": "#a1161b",
    "technical": "#8a6d00",
    "unknown": "#6b7079",
    "unclassified": "#9aa1a9",
}


def _styles() -> dict[str, ParagraphStyle]:
    regular, bold = register()
    base = ParagraphStyle("body", fontName=regular, fontSize=10, leading=13.5, textColor=INK)
    return {
        "body": base,
        "small": ParagraphStyle("small", base, fontSize=8.5, leading=11, textColor=GREY),
        "h1": ParagraphStyle(
            "h1", base, fontName=bold, fontSize=17, leading=21, spaceAfter=8, textColor=BLUE
        ),
        "h2": ParagraphStyle(
            "h2", base, fontName=bold, fontSize=12.5, leading=16, spaceBefore=10, spaceAfter=4
        ),
        "lead": ParagraphStyle("lead", base, fontSize=11, leading=15.5, spaceAfter=4),
        "cell": ParagraphStyle("cell", base, fontSize=9, leading=11.5, alignment=TA_LEFT),
        "cell_bold": ParagraphStyle("cell_bold", base, fontName=bold, fontSize=8.5, leading=11),
        "cell_right": ParagraphStyle("cell_right", base, fontSize=9, leading=11.5, alignment=2),
        "cell_bold_right": ParagraphStyle(
            "cell_bold_right", base, fontName=bold, fontSize=8.5, leading=11, alignment=2
        ),
    }


def _pct(value: float | None, digits: int = 1) -> str:
    return "no data" if value is None else f"{value * 100:.{digits}f}%"


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"£{value:,.2f}"


def _name(view: dict[str, Any], unit_id: str) -> str:
    name = view["unit_names"].get(unit_id)
    return f"{unit_id} {name}" if name else unit_id


def _image(figure: Figure, width: float = TEXT_WIDTH) -> Image:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=CHART_DPI, bbox_inches="tight")
    buffer.seek(0)
    image = Image(buffer)
    # Drawn at the size matplotlib laid it out (inches), never wider than the text.
    natural = image.imageWidth * 72 / CHART_DPI
    scale = min(width, natural) / image.imageWidth
    image.drawWidth = image.imageWidth * scale
    image.drawHeight = image.imageHeight * scale
    return image


def _bars(
    labels: Sequence[str], values: Sequence[int], title: str, colours: Sequence[str] | str
) -> Image:
    """Horizontal bars, one line per label, the value written at each bar's end."""
    figure = Figure(figsize=(6.8, 0.9 + 0.32 * max(len(labels), 1)))
    axes = figure.subplots()
    positions = list(range(len(labels)))
    bars = axes.barh(positions, list(values), color=colours, height=0.65)
    axes.set_yticks(positions, list(labels), fontsize=8.5)
    axes.invert_yaxis()
    axes.bar_label(bars, labels=[f"{v:,}" for v in values], padding=3, fontsize=8.5)
    axes.set_xlim(0, max([*values, 1]) * 1.15)
    axes.set_title(title, fontsize=10, loc="left")
    axes.set_xlabel("activations", fontsize=8.5)
    axes.spines[["top", "right"]].set_visible(False)
    axes.tick_params(axis="x", labelsize=8)
    return _image(figure)


def _heatmap(counts: list[list[int]], title: str, timezone: str, cmap: str) -> Image:
    """Day by hour with every non-zero cell's count written in it and a colour legend."""
    figure = Figure(figsize=(6.8, 2.15))
    axes = figure.subplots()
    peak = max(1, *(max(row) for row in counts))
    image = axes.imshow(counts, aspect="auto", cmap=cmap, vmin=0, vmax=peak)
    axes.set_yticks(range(7), DAYS, fontsize=8)
    axes.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)], fontsize=8)
    axes.set_xlabel(f"hour of day ({timezone})", fontsize=8.5)
    axes.set_title(title, fontsize=10, loc="left")
    for day, row in enumerate(counts):
        for hour, value in enumerate(row):
            if value:
                dark = value > peak * 0.55
                axes.text(
                    hour,
                    day,
                    str(value),
                    ha="center",
                    va="center",
                    fontsize=6.5,
                    color="white" if dark else "#1b1f24",
                )
    bar = figure.colorbar(image, ax=axes, fraction=0.035, pad=0.02)
    bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    bar.set_label("activations", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    return _image(figure)


def _lines(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None], str]],
    title: str,
    percent: bool = False,
) -> Image:
    """Month lines with the last point's value written beside it."""
    figure = Figure(figsize=(6.8, 2.3))
    axes = figure.subplots()
    positions = list(range(len(labels)))
    drawn = 0
    for name, values, colour in series:
        points = [(x, v) for x, v in zip(positions, values, strict=True) if v is not None]
        if not points:
            continue
        drawn += 1
        xs, ys = zip(*points, strict=True)
        scaled = [y * 100 for y in ys] if percent else list(ys)
        axes.plot(xs, scaled, marker="o", markersize=3, color=colour, label=name)
        last = scaled[-1]
        axes.annotate(
            f"{last:.1f}%" if percent else f"{last:,.0f}",
            (xs[-1], last),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=7.5,
            color=colour,
        )
    axes.set_xticks(positions, list(labels), fontsize=7.5)
    axes.set_xlim(-0.5, len(labels) - 0.2)
    axes.tick_params(axis="y", labelsize=7.5)
    if percent:
        axes.set_ylabel("%", fontsize=8)
    axes.set_title(title, fontsize=10, loc="left")
    axes.spines[["top", "right"]].set_visible(False)
    if drawn:
        axes.legend(fontsize=7.5, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    else:
        axes.text(0.5, 0.5, "no data", transform=axes.transAxes, ha="center", fontsize=9)
    return _image(figure)


def _table(
    rows: list[list[Any]],
    widths: Sequence[float],
    styles: dict[str, ParagraphStyle],
    header: bool = True,
    right: Sequence[int] = (),
) -> Table:
    """A table whose cells wrap (Paragraphs), repeating its header when it splits."""

    def style(row: int, column: int) -> ParagraphStyle:
        name = "cell_bold" if header and row == 0 else "cell"
        return styles[name + ("_right" if column in right else "")]

    cells = [
        [
            cell if not isinstance(cell, str) else Paragraph(escape(cell), style(i, j))
            for j, cell in enumerate(row)
        ]
        for i, row in enumerate(rows)
    ]
    table = Table(
        cells,
        colWidths=list(widths),
        repeatRows=1 if header else 0,
        hAlign="LEFT",
        spaceBefore=2,
        spaceAfter=6,
    )
    commands: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#d0d5db")),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]
    if header:
        commands += [("BACKGROUND", (0, 0), (-1, 0), PALE)]
    table.setStyle(TableStyle(commands))
    return table


class _NumberedCanvas(Canvas):  # type: ignore[misc]
    """Draws "page N of M" once the number of pages is known (saves the pages first)."""

    footer_left = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        regular, _ = register()
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            if number > 1:  # not on the cover
                self.setFont(regular, 8)
                self.setFillColor(GREY)
                self.drawString(MARGIN, 12 * mm, self.footer_left)
                self.drawRightString(WIDTH - MARGIN, 12 * mm, f"page {number} of {total}")
            super().showPage()
        super().save()


def _cover(canvas: Canvas, document: Any) -> None:
    info = document.report_info
    regular, bold = register()
    canvas.saveState()
    canvas.setFillColor(BLUE)
    canvas.rect(0, HEIGHT - 110 * mm, WIDTH, 110 * mm, stroke=0, fill=1)
    canvas.setFillColor(colors.white)
    canvas.setFont(regular, 13)
    canvas.drawString(MARGIN, HEIGHT - 45 * mm, info["kind_title"])
    canvas.setFont(bold, 26)
    canvas.drawString(MARGIN, HEIGHT - 60 * mm, info["period"])
    canvas.setFont(regular, 13)
    canvas.drawString(MARGIN, HEIGHT - 72 * mm, "Help points: use, answer times, police, uptime")
    canvas.restoreState()


def _header(canvas: Canvas, document: Any) -> None:
    info = document.report_info
    regular, _ = register()
    canvas.saveState()
    canvas.setFillColor(BLUE)
    canvas.rect(0, HEIGHT - 6 * mm, WIDTH, 6 * mm, stroke=0, fill=1)
    canvas.setFont(regular, 8)
    canvas.setFillColor(GREY)
    canvas.drawString(MARGIN, HEIGHT - 14 * mm, f"{info['scheme']} · {info['kind_title']}")
    canvas.drawRightString(WIDTH - MARGIN, HEIGHT - 14 * mm, info["period"])
    canvas.restoreState()


def _delta(before: dict[str, Any] | None, key: str) -> str:
    if before is None:
        return "n/a"
    return _count(before[key])


def _count(value: int | None) -> str:
    """A count, or "no data" for a period before the scheme ran."""
    return "no data" if value is None else f"{value:,}"


def _seconds(value: float | None) -> str:
    return "no data" if value is None else f"{value:,.1f} s"


def _rolling(costs: dict[str, Any]) -> str:
    """Over which months the rolling cost is counted: fewer than 12 in the first year."""
    months = costs["rolling_months"]
    if months is None or months >= 12:
        return "over the last 12 months"
    return f"over the {months} month{'s' if months != 1 else ''} the scheme has run"


def _summary_rows(view: dict[str, Any]) -> list[list[Any]]:
    trend = view["trend"] or {}
    previous, last_year = trend.get("previous"), trend.get("last_year")
    compare = "Previous month" if view["kind"] == "month" else "—"
    rows: list[list[Any]] = [["", view["label"], compare, "Last year"]]

    def share(summary: dict[str, Any] | None, seconds: int) -> str:
        if summary is None:
            return "n/a"
        value = summary["answered_within"].get(str(seconds))
        return "n/a" if value is None else _pct(value)

    rows.append(
        [
            "Activations",
            f"{view['activations']:,}",
            _delta(previous, "activations"),
            _delta(last_year, "activations"),
        ]
    )
    rows.append(
        [
            "Genuine (needed help)",
            f"{view['by_category']['genuine']:,}",
            _delta(previous, "genuine"),
            _delta(last_year, "genuine"),
        ]
    )
    rows.append(
        [
            "False (accidental, malicious, test)",
            f"{view['by_category']['false']:,}",
            _delta(previous, "false"),
            _delta(last_year, "false"),
        ]
    )
    rows.append(
        [
            "of which malicious",
            f"{view['false_categories']['false_malicious']:,}",
            _delta(previous, "malicious"),
            _delta(last_year, "malicious"),
        ]
    )
    for target in view["answer_times"]["targets"]:
        seconds = target["within_seconds"]
        verdict = {True: "met", False: "NOT met", None: ""}[target["met"]]
        rows.append(
            [
                f"Answered within {seconds} s (target {target['target'] * 100:g}%)",
                f"{_pct(target['share'])} {verdict}".strip(),
                share(previous, seconds),
                share(last_year, seconds),
            ]
        )
    rows.append(
        [
            "Never answered",
            f"{view['answer_times']['unanswered']:,}",
            _delta(previous, "unanswered"),
            _delta(last_year, "unanswered"),
        ]
    )
    months = trend.get("months") or []
    own_uptime = months[-1]["uptime"] if months and view["kind"] == "month" else None
    if view["kind"] == "year":
        known = [u for u in view["uptime"] if u["share"] is not None]
        down = sum(u["down_seconds"] for u in known)
        supervised = sum(u["supervised_seconds"] for u in known)
        own_uptime = 1 - down / supervised if supervised else None
    rows.append(
        [
            "Uptime, all units",
            _pct(own_uptime, 2),
            _pct(previous["uptime"], 2) if previous else "n/a",
            _pct(last_year["uptime"], 2) if last_year else "n/a",
        ]
    )
    police = view["police"]
    rows.append(["Police called / attended", f"{police['police_called']} / "
                 f"{police['police_attended']}", "", ""])  # fmt: skip
    return rows


def _sentences(view: dict[str, Any]) -> list[str]:
    """The summary in words: what a councillor takes away in a minute."""
    times, police, costs = view["answer_times"], view["police"], view["costs"]
    genuine = view["by_category"]["genuine"]
    parts = [
        f"The help points were pressed {view['activations']:,} times in {view['label']}; "
        f"{genuine:,} {'was a genuine call' if genuine == 1 else 'were genuine calls'} for "
        "help and "
        f"{view['by_category']['false']:,} false "
        f"({view['false_categories']['false_malicious']:,} malicious)."
    ]
    verdicts = []
    for target in times["targets"]:
        met = {True: "met", False: "not met", None: "no calls"}[target["met"]]
        verdicts.append(
            f"{_pct(target['share'])} within {target['within_seconds']} s "
            f"(target {target['target'] * 100:g}%: {met})"
        )
    unanswered = times["unanswered"]
    parts.append(
        "Answered: "
        + "; ".join(verdicts)
        + (
            f". {unanswered} never answered, counted as failures."
            if unanswered
            else ". Every activation was answered."
        )
    )
    if police["escalated"]:
        attend = police["median_minutes_to_attend"]
        parts.append(
            f"{police['escalated']} escalated: the police were called to "
            f"{police['police_called']} and attended {police['police_attended']}"
            + (f" (median {attend:.0f} minutes from the call)" if attend is not None else "")
            + f"; {police['medical_without_police']} medical and "
            f"{police['other_without_police']} other without the police."
        )
    else:
        parts.append("No activation was escalated.")
    parts.append(
        f"Cost per genuine activation: {_money(costs['cost_per_genuine'])} this "
        f"{view['kind']}, {_money(costs['rolling_12_months_cost_per_genuine'])} "
        f"{_rolling(costs)} ({costs['inputs']})."
    )
    if view["top_prank_units"]:
        top = view["top_prank_units"][0]
        parts.append(
            f"Most false presses: {_name(view, top['unit_id'])} ({top['false']} false, "
            f"{top['malicious']} malicious)."
        )
    return parts


def _story(
    view: dict[str, Any], report: MonthlyReport, styles: dict[str, ParagraphStyle]
) -> list[Any]:
    story: list[Any] = [Spacer(1, 95 * mm)]
    generated = view["generated_at"]
    when = (
        datetime.fromisoformat(generated).astimezone(report_tz(report)).strftime("%-d %B %Y %H:%M")
        if generated
        else "n/a"
    )
    story.append(Paragraph(escape(view["scheme"]), styles["h1"]))
    story.append(
        Paragraph(
            escape(f"Generated {when} ({view['timezone']}). Times and months are local "
                   f"({view['timezone']})."),
            styles["body"],
        )
    )  # fmt: skip
    story.append(Spacer(1, 6 * mm))
    contents = [
        "1. Summary",
        "2. Answer times and police outcomes",
        "3. Where and when: units, zones, classifications, false and malicious presses",
        "4. Trends",
        "5. Uptime, costs, interventions and notes",
    ]
    if view.get("evaluation"):
        contents.append("6. Crime near the help points (impact evaluation)")
    contents.append(f"{len(contents) + 1}. Public survey: how safe people feel here")
    for line in contents:
        story.append(Paragraph(escape(line), styles["lead"]))
    story.append(NextPageTemplate("detail"))
    story.append(PageBreak())

    # 1. The one-page summary.
    story.append(Paragraph("Summary", styles["h1"]))
    for sentence in _sentences(view):
        story.append(Paragraph(escape(sentence), styles["lead"]))
    story.append(Spacer(1, 3 * mm))
    story.append(
        _table(_summary_rows(view), [78 * mm, 32 * mm, 32 * mm, 32 * mm], styles, right=(1, 2, 3))
    )
    trend = view["trend"]
    if trend:
        labels = [
            m["label"][2:] if view["kind"] == "month" else m["label"][5:] for m in trend["months"]
        ]
        story.append(Spacer(1, 3 * mm))
        story.append(
            _lines(
                labels,
                [
                    ("activations", [m["activations"] for m in trend["months"]], "#0b4fa8"),
                    ("genuine", [m["genuine"] for m in trend["months"]], "#14692f"),
                ],
                "Activations and genuine, month by month",
            )
        )
    story.append(PageBreak())

    # 2. Answer times and police.
    times = view["answer_times"]
    story.append(Paragraph("Answer times", styles["h1"]))
    story.append(
        Paragraph(
            escape(
                f"From the press to an operator accepting the alarm, against "
                f"{times['targets_label']}. An activation never answered fails every target."
            ),
            styles["body"],
        )
    )
    rows: list[list[Any]] = [
        ["Target", "Of all activations", "Of answered only", "Verdict"],
    ]
    for target in times["targets"]:
        verdict = {True: "met", False: "NOT met", None: "n/a"}[target["met"]]
        rows.append(
            [
                f"{target['target'] * 100:g}% within {target['within_seconds']} s",
                f"{_pct(target['share'])} ({target['answered_within']:,} of "
                f"{times['activations']:,})",
                _pct(target["share_of_answered"]),
                verdict,
            ]
        )
    story.append(_table(rows, [48 * mm, 48 * mm, 40 * mm, 38 * mm], styles))
    median = times["median_seconds"]
    p90 = times["p90_seconds"]
    story.append(
        Paragraph(
            escape(
                f"Median answer {median:.1f} s, 90th percentile {p90:.1f} s (answered ones)."
                if median is not None and p90 is not None
                else "No activation was answered."
            ),
            styles["body"],
        )
    )
    story.append(Paragraph(f"Never answered: {times['unanswered']:,}", styles["h2"]))
    if times["never_answered"]:
        rows = [["Opened (local time)", "Unit"]]
        tz = report_tz(report)
        for item in times["never_answered"][:200]:
            at = datetime.fromisoformat(item["opened_at"]).astimezone(tz)
            rows.append([f"{at:%a %-d %b %Y %H:%M}", _name(view, item["unit_id"])])
        story.append(_table(rows, [55 * mm, 119 * mm], styles))
        if len(times["never_answered"]) > 200:
            story.append(
                Paragraph("The first 200 are listed; the CSV has them all.", styles["small"])
            )
    else:
        story.append(Paragraph("None: every activation was answered.", styles["body"]))

    police = view["police"]
    attend = police["median_minutes_to_attend"]
    story.append(Paragraph("Police outcomes", styles["h2"]))
    rows = [
        ["", "Count"],
        ["Escalated (all)", f"{police['escalated']:,}"],
        ["Police called", f"{police['police_called']:,}"],
        ["Police acknowledged (log/CAD reference given)", f"{police['police_acknowledged']:,}"],
        ["Police attended (officers on scene)", f"{police['police_attended']:,}"],
        [
            "Median time from the call to officers on scene",
            "n/a" if attend is None else f"{attend:.1f} min",
        ],
        ["Medical escalations without the police", f"{police['medical_without_police']:,}"],
        ["Other escalations without the police", f"{police['other_without_police']:,}"],
    ]
    story.append(_table(rows, [134 * mm, 40 * mm], styles, right=(1,)))
    story.append(CondPageBreak(120 * mm))

    # 3. Where and when.
    story.append(Paragraph("Where and when", styles["h1"]))
    units = list(view["by_unit"])
    story.append(
        _bars(
            [_name(view, u) for u in units],
            [view["by_unit"][u] for u in units],
            "Activations by unit",
            "#0b4fa8",
        )
    )
    zones = list(view["by_zone"])
    story.append(
        _bars(zones, [view["by_zone"][z] for z in zones], "Activations by zone", "#3d6fb6")
    )
    categories = list(view["by_category"])
    story.append(
        _bars(
            categories,
            [view["by_category"][c] for c in categories],
            "Classifications",
            [CATEGORY_COLOURS[c] for c in categories],
        )
    )
    story.append(
        _heatmap(report.heatmap, "All activations by hour of the week", view["timezone"], "Blues")
    )
    story.append(CondPageBreak(90 * mm))
    story.append(Paragraph("False activations by unit and reason", styles["h2"]))
    rows = [["Unit", "Accidental", "Malicious", "Test", "All false"]]
    for unit_id, counts in view["false_by_unit"].items():
        rows.append(
            [
                _name(view, unit_id),
                f"{counts['false_accidental']:,}",
                f"{counts['false_malicious']:,}",
                f"{counts['false_test']:,}",
                f"{sum(counts.values()):,}",
            ]
        )
    story.append(
        _table(rows, [82 * mm, 23 * mm, 23 * mm, 23 * mm, 23 * mm], styles, right=(1, 2, 3, 4))
    )
    story.append(
        _heatmap(report.false_heatmap, "False activations by hour of the week",
                 view["timezone"], "Reds")
    )  # fmt: skip
    story.append(
        _heatmap(report.malicious_heatmap, "Malicious activations by hour of the week",
                 view["timezone"], "Purples")
    )  # fmt: skip
    story.append(CondPageBreak(120 * mm))

    # 4. Trends.
    story.append(Paragraph("Trends", styles["h1"]))
    if trend:
        months = trend["months"]
        labels = [m["label"][2:] if view["kind"] == "month" else m["label"][5:] for m in months]
        target_lines = [
            (
                f"within {t['within_seconds']} s",
                [m["answered_within"][str(t["within_seconds"])] for m in months],
                colour,
            )
            for t, colour in zip(
                times["targets"], ("#0b4fa8", "#8a6d00", "#14692f", "#6b7079"), strict=False
            )
        ]
        story.append(
            _lines(
                labels, target_lines, "Answered within the targets (unanswered as failures)", True
            )
        )
        story.append(
            _lines(labels, [("uptime", [m["uptime"] for m in months], "#14692f")],
                   "Uptime of supervised time, all units", True)
        )  # fmt: skip
        story.append(
            _lines(
                labels,
                [("median", [m["median_answer_seconds"] for m in months], "#0b4fa8")],
                "Median seconds to answer, month by month",
            )
        )
        rows = [["Month", "Activations", "Genuine", "False", "Malicious", "Unanswered",
                 "Median answer", "Uptime"]]  # fmt: skip
        extra = [("Same month last year", trend["last_year"]),
                 ("Year to date", trend["year_to_date"])]  # fmt: skip
        if view["kind"] == "year":
            extra = [("Previous year", trend["last_year"])]
        labelled = [(m["label"], m) for m in months] + [
            (f"{name} ({summary['label']})", summary) for name, summary in extra if summary
        ]
        for label, summary in labelled:
            rows.append(
                [
                    label,
                    _count(summary["activations"]),
                    _count(summary["genuine"]),
                    _count(summary["false"]),
                    _count(summary["malicious"]),
                    _count(summary["unanswered"]),
                    _seconds(summary["median_answer_seconds"]),
                    _pct(summary["uptime"], 2),
                ]
            )
        story.append(
            _table(rows, [38 * mm, 22 * mm, 18 * mm, 16 * mm, 20 * mm, 22 * mm, 20 * mm, 18 * mm],
                   styles, right=(1, 2, 3, 4, 5, 6, 7))
        )  # fmt: skip
    story.append(CondPageBreak(90 * mm))

    # 5. Uptime, costs, interventions, notes.
    story.append(Paragraph("Uptime", styles["h1"]))
    rows = [["Unit", "Uptime", "Down", "Supervised"]]
    for item in view["uptime"]:
        rows.append(
            [
                _name(view, item["unit_id"]),
                _pct(item["share"], 2),
                f"{item['down_seconds'] / 3600:,.1f} h",
                f"{item['supervised_seconds'] / 3600:,.0f} h",
            ]
        )
    story.append(_table(rows, [94 * mm, 26 * mm, 26 * mm, 28 * mm], styles, right=(1, 2, 3)))
    costs = view["costs"]
    story.append(Paragraph("Costs", styles["h2"]))
    rows = [
        ["", "Value"],
        ["Inputs (stored for the scheme)", costs["inputs"]],
        [f"Cost of the {view['kind']}", _money(costs["period_cost"])],
        [f"Cost per genuine activation, this {view['kind']}", _money(costs["cost_per_genuine"])],
        [
            f"Cost per genuine activation, {_rolling(costs).removeprefix('over ')}",
            _money(costs["rolling_12_months_cost_per_genuine"]),
        ],
    ]
    story.append(_table(rows, [84 * mm, 90 * mm], styles))
    story.append(Paragraph("Units with the most false presses", styles["h2"]))
    if view["top_prank_units"]:
        rows = [["Unit", "Malicious", "All false"]]
        for item in view["top_prank_units"]:
            rows.append(
                [_name(view, item["unit_id"]), f"{item['malicious']:,}", f"{item['false']:,}"]
            )
        story.append(_table(rows, [114 * mm, 30 * mm, 30 * mm], styles, right=(1, 2)))
    else:
        story.append(Paragraph("No false presses.", styles["body"]))
    story.append(Paragraph("Interventions", styles["h2"]))
    if view["interventions"]:
        rows = [["Unit", "Date", "What", "False before / after", "Malicious before / after"]]
        for item in view["interventions"]:
            after = f"{item['false_after']}" + ("" if item["complete"] else " (so far)")
            rows.append(
                [
                    _name(view, item["unit_id"]),
                    item["on"],
                    item["what"],
                    f"{item['false_before']} / {after}",
                    f"{item['malicious_before']} / {item['malicious_after']}",
                ]
            )
        story.append(_table(rows, [44 * mm, 24 * mm, 50 * mm, 28 * mm, 28 * mm], styles))
        story.append(
            Paragraph(
                escape(
                    f"Counts over the {view['interventions'][0]['days']} days before and after "
                    "each intervention's date."
                ),
                styles["small"],
            )
        )
    else:
        story.append(Paragraph("None recorded in or just before this period.", styles["body"]))
    evaluation = view.get("evaluation")
    if evaluation:
        story.append(PageBreak())
        story.extend(_evaluation(evaluation, styles))
    survey = view.get("survey")
    if survey and survey["overall"]["n"]:
        story.append(PageBreak())  # its own page; without answers, one line after the rest
    story.extend(_survey(view, styles))
    story.append(Paragraph("Notes", styles["h2"]))
    for note in view["notes"]:
        story.append(Paragraph(escape(note), styles["small"]))
    return story


def _evaluation(evaluation: dict[str, Any], styles: dict[str, ParagraphStyle]) -> list[Any]:
    """The latest crime evaluation: the estimate with its interval, the months, the areas, the
    month-by-month plot, and the caveat."""
    parts: list[Any] = [Paragraph("Crime near the help points", styles["h1"])]
    run = str(evaluation.get("run_at", ""))[:16].replace("T", " ")
    parts.append(
        Paragraph(
            escape(
                f"The latest evaluation, run {run} UTC by {evaluation.get('run_by', '?')}: "
                f"{', '.join(evaluation['crime_types'])} within {evaluation['radius_m']:g} m, "
                f"installed {evaluation['installed']}; {len(evaluation['months_before'])} "
                f"months before and {len(evaluation['months_after'])} after (police.uk data)."
            ),
            styles["body"],
        )
    )
    parts.append(Paragraph(escape(evaluation["summary"]), styles["lead"]))
    rows: list[list[Any]] = [["", "Estimate", "Interval"]]
    level = f"{evaluation['confidence'] * 100:g}%"
    for key, label in (
        ("difference_per_area_month", "Difference per area per month"),
        ("rate_ratio", "Rate ratio"),
    ):
        value = evaluation.get(key)
        if value:
            rows.append(
                [label, f"{value['estimate']:+.2f}" if key.startswith("diff") else
                 f"{value['estimate']:.2f}", f"{level}: {value['low']:.2f} to {value['high']:.2f}"]
            )  # fmt: skip
    parts.append(_table(rows, [70 * mm, 40 * mm, 64 * mm], styles))
    if evaluation.get("months_left_out"):
        parts.append(
            Paragraph(
                escape("Left out as incomplete: " + ", ".join(evaluation["months_left_out"]) + "."),
                styles["body"],
            )
        )
    monthly = evaluation.get("monthly") or []
    if monthly:
        parts.append(
            _lines(
                [m["month"][2:] for m in monthly],
                [
                    ("near help points", [m["help_points"] for m in monthly], "#0b4fa8"),
                    ("comparison areas", [m["comparison"] for m in monthly], "#8a6d00"),
                ],
                f"Crimes per area per month (installed {evaluation['installed']})",
            )
        )
    rows = [["Area", "Kind", "Before", "After"]]
    for area in evaluation["areas"]:
        kind = "help point" if area["help_point"] else "comparison"
        rows.append([area["name"], kind, f"{area['before']:,}", f"{area['after']:,}"])
    parts.append(_table(rows, [80 * mm, 34 * mm, 30 * mm, 30 * mm], styles, right=(2, 3)))
    parts.append(Paragraph(escape("Caveat: " + str(evaluation["caveat"])), styles["small"]))
    return parts


def _survey_mean(stats: dict[str, Any]) -> str:
    if stats["mean"] is None:
        return "n/a"
    # As computed (to 3 decimals): rounding again would move an interval's end.
    if stats["mean_low"] is None:
        return f"{stats['mean']:g}"
    return f"{stats['mean']:g} ({stats['mean_low']:g}-{stats['mean_high']:g})"


def _survey_safe(stats: dict[str, Any]) -> str:
    if stats["safe_share"] is None:
        return "n/a"
    return f"{_pct(stats['safe_share'])} ({_pct(stats['safe_low'])}-{_pct(stats['safe_high'])})"


def _survey(view: dict[str, Any], styles: dict[str, ParagraphStyle]) -> list[Any]:
    """The public survey's answers in the period by unit, zone and hour, and before and after
    installation, each with its 95% intervals (docs/survey.md)."""
    parts: list[Any] = [Paragraph("Public survey: how safe people feel here", styles["h1"])]
    survey = view.get("survey")
    if not survey or not survey["overall"]["n"]:
        parts.append(Paragraph("No answers to the survey in this period.", styles["body"]))
        return parts
    parts.append(
        Paragraph(
            escape(
                f'{survey["overall"]["n"]:,} answers to "{survey["question"]}" on the help '
                f"points' public pages ({survey['scale']}). Intervals are {survey['intervals']}."
            ),
            styles["body"],
        )
    )
    header = ["", "Answers", "Mean (95%)", "Feeling safe (95%)"]
    widths = [70 * mm, 20 * mm, 40 * mm, 44 * mm]

    def table(title: str, groups: list[tuple[str, dict[str, Any]]]) -> None:
        parts.append(Paragraph(title, styles["h2"]))
        rows: list[list[Any]] = [header]
        for label, stats in groups:
            rows.append([label, f"{stats['n']:,}", _survey_mean(stats), _survey_safe(stats)])
        parts.append(_table(rows, widths, styles, right=(1,)))

    phases = survey["before_after"]
    table(
        "All answers, and before and after installation",
        [("All", survey["overall"])]
        + [(f"{p.capitalize()} installation", phases[p]) for p in ("before", "after")],
    )
    table("By unit", [(_name(view, u), s) for u, s in survey["by_unit"].items()])
    table("By zone", list(survey["by_zone"].items()))
    table(
        f"By hour of the day ({view['timezone']})",
        [(f"{hour}:00", s) for hour, s in survey["by_hour"].items()],
    )
    parts.append(
        Paragraph(
            escape(
                "Installation is each unit's first commissioning test, else when it was first "
                "heard. Few answers give wide intervals; an answer is anonymous and unverified."
            ),
            styles["small"],
        )
    )
    return parts


def report_tz(report: MonthlyReport) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(report.timezone)


def report_pdf(
    report: MonthlyReport,
    scheme: str = "Help point scheme",
    evaluation: dict[str, Any] | None = None,
) -> bytes:
    """The report as a PDF: cover, summary, then the detail (see the module's docstring)."""
    view = report_view(report) | {"scheme": scheme, "evaluation": evaluation}
    styles = _styles()
    buffer = io.BytesIO()
    kind_title = "Yearly report" if view["kind"] == "year" else "Monthly report"
    document = BaseDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=f"{scheme}: {kind_title.lower()} {view['label']}",
        author="helppoint",
        pageCompression=1,
    )
    document.report_info = {"scheme": scheme, "kind_title": kind_title, "period": view["label"]}
    frame = Frame(MARGIN, MARGIN, TEXT_WIDTH, HEIGHT - 2 * MARGIN - 4 * mm, id="body")
    document.addPageTemplates(
        [
            PageTemplate("cover", [frame], onPage=_cover),
            PageTemplate("detail", [frame], onPage=_header),
        ]
    )

    class Numbered(_NumberedCanvas):
        footer_left = f"{scheme} · {kind_title} {view['label']}"

    document.build(_story(view, report, styles), canvasmaker=Numbered)
    return buffer.getvalue()
