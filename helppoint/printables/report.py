"""The monthly report as a PDF: figures, tables and matplotlib charts (see docs/reports.md)."""

from __future__ import annotations

import io
from typing import Any

# The object-oriented Figure, not pyplot: no global state, safe in a threaded server.
from matplotlib.figure import Figure
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from helppoint.domain.reports import DAYS, MonthlyReport
from helppoint.printables.sign import BLUE, INK
from helppoint.services.reports import report_view

CHART_DPI = 150


def _png(figure: Figure) -> ImageReader:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=CHART_DPI, bbox_inches="tight")
    buffer.seek(0)
    return ImageReader(buffer)


def _bar_chart(counts: dict[str, int], title: str) -> ImageReader:
    figure = Figure(figsize=(7, 2.6))
    axes = figure.subplots()
    axes.bar(list(counts), list(counts.values()), color="#0b4fa8")
    axes.set_title(title)
    axes.set_ylabel("activations")
    axes.tick_params(axis="x", labelrotation=45)
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def _heatmap(report: MonthlyReport) -> ImageReader:
    figure = Figure(figsize=(7, 2.6))
    axes = figure.subplots()
    image = axes.imshow(report.heatmap, aspect="auto", cmap="Blues")
    axes.set_yticks(range(7), DAYS)
    axes.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    axes.set_xlabel(f"hour of day ({report.timezone})")
    axes.set_title("Activations by hour of the week")
    figure.colorbar(image, ax=axes, label="activations")
    return _png(figure)


def _categories(view: dict[str, Any]) -> ImageReader:
    figure = Figure(figsize=(7, 2.4))
    axes = figure.subplots()
    labels = [k for k, v in view["by_category"].items() if v]
    values = [view["by_category"][k] for k in labels]
    colours = {
        "genuine": "#14692f",
        "false": "#a1161b",
        "technical": "#8a6d00",
        "unknown": "#6b7079",
        "unclassified": "#c4c9cf",
    }
    axes.barh(labels, values, color=[colours[k] for k in labels])
    axes.set_title("Classifications")
    axes.set_xlabel("activations")
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def report_pdf(report: MonthlyReport, scheme: str = "Help point scheme") -> bytes:
    """A two-page A4 report: key figures and tables, then the charts."""
    view = report_view(report)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle(f"{scheme}: monthly report {report.month}")
    canvas.setAuthor("helppoint")
    width, height = A4
    margin = 15 * mm
    canvas.setFillColor(BLUE)
    canvas.rect(0, height - 28 * mm, width, 28 * mm, stroke=0, fill=1)
    canvas.setFillColorRGB(1, 1, 1)
    canvas.setFont("Helvetica-Bold", 20)
    canvas.drawString(margin, height - 15 * mm, f"{scheme}: monthly report {report.month}")
    canvas.setFont("Helvetica", 10)
    canvas.drawString(margin, height - 22 * mm, f"Times in {report.timezone}")
    canvas.setFillColor(INK)
    y = height - 40 * mm

    def line(label: str, value: str, bold: bool = False) -> None:
        nonlocal y
        canvas.setFont("Helvetica-Bold" if bold else "Helvetica", 11)
        canvas.drawString(margin, y, label)
        canvas.drawRightString(margin + 120 * mm, y, value)
        y -= 6 * mm

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value * 100:.1f}%"

    def money(value: float | None) -> str:
        return "n/a (no genuine activations)" if value is None else f"£{value:,.2f}"

    times = view["answer_times"]
    line("Activations", str(view["activations"]), bold=True)
    line("Button presses (repeats joined)", str(view["presses"]))
    line("Genuine share of classified", pct(view["genuine_share"]))
    line("False share of classified", pct(view["false_share"]))
    for code, count in view["false_categories"].items():
        line(f"   {code.replace('_', ': ', 1)}", str(count))
    police = view["police"]
    line("Police called / attended", f"{police['police_called']} / {police['police_attended']}")
    for target in times["targets"]:
        verdict = {True: "met", False: "NOT met", None: "n/a"}[target["met"]]
        line(
            f"Answered within {target['within_seconds']} s (the scheme's target "
            f"{target['target'] * 100:g}%)",
            f"{pct(target['share'])} {verdict}",
        )
    line(
        "Median / 90th percentile answer time",
        f"{times['median_seconds']} / {times['p90_seconds']} s",
    )
    line("Never answered", str(times["unanswered"]))
    line("Cost of the month", money(view["costs"]["month_cost"]))
    line("Cost per genuine activation", money(view["costs"]["cost_per_genuine"]), bold=True)
    y -= 4 * mm
    canvas.setFont("Helvetica-Bold", 12)
    canvas.drawString(margin, y, "Unit uptime")
    y -= 6 * mm
    for item in view["uptime"]:
        line(f"   {item['unit_id']}", pct(item["share"]))
    y -= 2 * mm
    canvas.setFont("Helvetica-Oblique", 8)
    for note in view["notes"]:
        canvas.drawString(margin, y, note[:130])
        y -= 4 * mm
    canvas.showPage()
    charts = [
        _bar_chart(view["by_unit"], "Activations by unit"),
        _bar_chart(view["by_zone"], "Activations by zone"),
        _heatmap(report),
        _categories(view),
    ]
    y = height - margin
    for chart in charts:
        image_width, image_height = chart.getSize()
        draw_width = width - 2 * margin
        draw_height = draw_width * image_height / image_width
        if y - draw_height < margin:
            canvas.showPage()
            y = height - margin
        canvas.drawImage(chart, margin, y - draw_height, draw_width, draw_height)
        y -= draw_height + 4 * mm
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
