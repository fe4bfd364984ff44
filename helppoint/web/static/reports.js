// Scheme report dashboard: fetches /api/reports/monthly and shows the same figures as the PDF
// (docs/reports.md) as tables, labelled bars (every value written beside its bar, so 3 next to
// 348 stays readable), a heatmap with axes and a legend, and trend lines. No chart library.
import { api } from "/static/api.js";
import { N_, _, ngettext } from "/static/i18n.js";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const tip = $("chart-tip");
let current = null; // the report shown
let heatKind = "all";

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== null) node.textContent = text;
  return node;
}

function el(tag, attrs = {}, text = null) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "className") node.className = v;
    else node.setAttribute(k, v);
  }
  if (text !== null) node.textContent = text;
  return node;
}

const pct = (v, digits = 1) => (v === null || v === undefined ? _("no data") : `${(v * 100).toFixed(digits)}%`);
const money = (v) => (v === null ? _("n/a") : `£${v.toLocaleString("en-GB", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`);
// A count is null for a period before the scheme ran: "no data", not 0.
const count = (v) => (v === null || v === undefined ? _("no data") : v.toLocaleString("en-GB"));
const seconds = (v) => (v === null || v === undefined ? _("no data") : `${v.toFixed(1)} s`);
const rolling = (costs) => (costs.rolling_months === null || costs.rolling_months >= 12
  ? _("last 12 months")
  : ngettext("the %(num)s month the scheme has run", "the %(num)s months the scheme has run", costs.rolling_months));
const unitName = (id) => (current.unit_names[id] ? `${id} ${current.unit_names[id]}` : id);
const verdict = (met) => (met === null ? _("n/a") : met ? _("met") : _("NOT met"));

/** Fills a table: a header row, then rows; columns in `numeric` are right-aligned. */
function fillTable(target, header, rows, numeric = [], empty = _("None.")) {
  const head = el("thead");
  const tr = el("tr");
  header.forEach((h, i) => tr.append(el("th", { scope: "col", className: numeric.includes(i) ? "num" : "" }, h)));
  head.append(tr);
  const body = el("tbody");
  for (const row of rows) {
    const line = el("tr");
    row.forEach((cell, i) => line.append(el("td", { className: numeric.includes(i) ? "num" : "" }, String(cell))));
    body.append(line);
  }
  if (!rows.length) {
    const line = el("tr", { className: "none-yet" });
    line.append(el("td", { colspan: header.length }, empty));
    body.append(line);
  }
  target.replaceChildren(head, body);
}

/** Horizontal bars, one row each: the label, the bar, and its value written beside it. */
function hbars(target, entries) {
  const max = Math.max(1, ...entries.map((e) => e.value));
  target.replaceChildren(...entries.map(({ label, value, colour }) => {
    const row = el("div", { className: "hbar", "data-label": label, "data-value": value });
    const name = el("span", { className: "hbar-label" }, label);
    const track = el("span", { className: "hbar-track" });
    const bar = el("span", { className: "hbar-bar", role: "img", "aria-label": `${label}: ${value}` });
    bar.style.width = `${(value / max) * 100}%`;
    if (colour) bar.style.background = colour;
    track.append(bar);
    row.append(name, track, el("span", { className: "hbar-value" }, count(value)));
    return row;
  }));
}

// [report key, colour, legend, chart label, a cell's count]
const HEAT = {
  all: ["heatmap", "#58a6ff", N_("activations"), N_("activations by hour of the week"),
    (n) => ngettext("%(num)s activation", "%(num)s activations", n)],
  false: ["false_heatmap", "#ff7b72", N_("false activations"), N_("false activations by hour of the week"),
    (n) => ngettext("%(num)s false activation", "%(num)s false activations", n)],
  malicious: ["malicious_heatmap", "#d2a8ff", N_("malicious activations"), N_("malicious activations by hour of the week"),
    (n) => ngettext("%(num)s malicious activation", "%(num)s malicious activations", n)],
};

/** Day × hour cells with the days and hours as axes, counts in non-empty cells, a legend. */
function heatmap(target) {
  const [key, colour, noun, label, cellCount] = HEAT[heatKind];
  const counts = key === "heatmap" ? current.heatmap.counts : current[key];
  const days = current.heatmap.days;
  const max = Math.max(1, ...counts.flat());
  const chart = svg("svg", { viewBox: "0 0 560 215", "data-chart": "heatmap", role: "group", "aria-label": _(label) });
  const cellW = 21;
  days.forEach((day, d) => {
    chart.append(svg("text", { x: 30, y: d * 22 + 27, "font-size": 12, fill: "currentColor", "text-anchor": "end" }, day));
    counts[d].forEach((value, h) => {
      const x = 36 + h * cellW;
      const y = d * 22 + 12;
      const cell = svg("rect", { x, y, width: cellW - 2, height: 20, fill: colour, "fill-opacity": value ? 0.2 + 0.8 * (value / max) : 0.06, "data-value": value });
      const text = `${day} ${String(h).padStart(2, "0")}:00: ${cellCount(value)}`;
      cell.setAttribute("tabindex", "0");
      cell.setAttribute("aria-label", text);
      cell.append(svg("title", {}, text));
      const show = () => { tip.textContent = text; };
      cell.addEventListener("mouseenter", show);
      cell.addEventListener("focus", show);
      chart.append(cell);
      if (value) {
        chart.append(svg("text", { x: x + (cellW - 2) / 2, y: y + 14, "font-size": 10, "text-anchor": "middle", fill: value > max * 0.6 ? "#0d1117" : "currentColor", "pointer-events": "none" }, String(value)));
      }
    });
  });
  for (let h = 0; h < 24; h += 3) {
    chart.append(svg("text", { x: 36 + h * cellW + 9, y: 175, "font-size": 11, "text-anchor": "middle", fill: "currentColor" }, String(h).padStart(2, "0")));
  }
  chart.append(svg("text", { x: 288, y: 190, "font-size": 11, "text-anchor": "middle", fill: "currentColor" }, _("hour of day (%(zone)s)", { zone: current.timezone })));
  // Legend: five steps from 0 to the busiest cell.
  chart.append(svg("text", { x: 36, y: 208, "font-size": 11, fill: "currentColor" }, `${_(noun)}:`));
  const steps = [...new Set([0, 1, 2, 3, 4].map((i) => Math.round((max * i) / 4)))];
  steps.forEach((value, i) => {
    const x = 200 + i * 62;
    chart.append(svg("rect", { x, y: 198, width: 18, height: 12, fill: colour, "fill-opacity": value ? 0.2 + 0.8 * (value / max) : 0.06 }));
    chart.append(svg("text", { x: x + 22, y: 208, "font-size": 11, fill: "currentColor", "data-legend": value }, String(value)));
  });
  target.replaceChildren(chart);
}

/** Month lines with a y axis (0 to the top value) and month labels. */
function trendChart(target, months) {
  const width = 560;
  const height = 190;
  const left = 40;
  const bottom = 160;
  const series = [["activations", "#58a6ff", N_("activations")], ["genuine", "#3fb950", N_("genuine")]];
  const max = Math.max(1, ...months.map((m) => m.activations));
  const x = (i) => left + (i * (width - left - 20)) / Math.max(1, months.length - 1);
  const y = (v) => bottom - (v / max) * (bottom - 20);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, "data-chart": "trend", role: "img", "aria-label": _("Activations and genuine, month by month") });
  for (const tick of [0, max / 2, max]) {
    chart.append(svg("line", { x1: left, x2: width - 10, y1: y(tick), y2: y(tick), stroke: "currentColor", "stroke-opacity": 0.15 }));
    chart.append(svg("text", { x: left - 4, y: y(tick) + 4, "font-size": 11, "text-anchor": "end", fill: "currentColor" }, String(Math.round(tick))));
  }
  months.forEach((m, i) => {
    if (i % 2 === months.length % 2 || i === months.length - 1) {
      chart.append(svg("text", { x: x(i), y: bottom + 16, "font-size": 10, "text-anchor": "middle", fill: "currentColor" }, m.label.slice(2)));
    }
  });
  series.forEach(([key, colour, name], s) => {
    // Months before the scheme ran have no data: left out of the line, not drawn as 0.
    const known = months.map((m, i) => [m, i]).filter(([m]) => m[key] !== null);
    const points = known.map(([m, i]) => `${x(i)},${y(m[key])}`).join(" ");
    chart.append(svg("polyline", { points, fill: "none", stroke: colour, "stroke-width": 2 }));
    const last = months[months.length - 1];
    if (last[key] !== null) chart.append(svg("text", { x: x(months.length - 1) - 4, y: y(last[key]) - 6, "font-size": 11, "text-anchor": "end", fill: colour }, `${_(name)} ${last[key]}`));
    chart.append(svg("rect", { x: left + 10 + s * 110, y: 178, width: 12, height: 4, fill: colour }));
    chart.append(svg("text", { x: left + 26 + s * 110, y: 184, "font-size": 11, fill: "currentColor" }, _(name)));
  });
  target.replaceChildren(chart);
}

function figures(report) {
  const trend = report.trend || {};
  const previous = trend.previous;
  const lastYear = trend.last_year;
  const compare = (key, format = count) => {
    const parts = [];
    if (previous) parts.push(_("previous %(value)s", { value: format(previous[key]) }));
    if (lastYear) parts.push(_("last year %(value)s", { value: format(lastYear[key]) }));
    return parts.join(" · ");
  };
  const months = trend.months || [];
  const uptime = report.kind === "month" && months.length ? months[months.length - 1].uptime : null;
  // [key (data-figure, stays English), label, value, note]
  const items = [
    ["Activations", _("Activations"), count(report.activations), compare("activations")],
    ["Genuine", _("Genuine"), count(report.by_category.genuine), compare("genuine")],
    ["False (malicious)", _("False (malicious)"), `${count(report.by_category.false)} (${count(report.false_categories.false_malicious)})`, compare("false")],
    ...report.answer_times.targets.map((t) => [
      `Answered within ${t.within_seconds} s (target ${t.target * 100}%)`,
      _("Answered within %(seconds)s s (target %(target)s%%)", { seconds: t.within_seconds, target: t.target * 100 }),
      `${pct(t.share)} ${verdict(t.met)}`,
      [
        previous && _("previous %(value)s", { value: pct(previous.answered_within[String(t.within_seconds)]) }),
        lastYear && _("last year %(value)s", { value: pct(lastYear.answered_within[String(t.within_seconds)]) }),
      ].filter(Boolean).join(" · "),
    ]),
    ["Never answered", _("Never answered"), count(report.answer_times.unanswered), compare("unanswered")],
    ["Police called / attended", _("Police called / attended"), `${report.police.police_called} / ${report.police.police_attended}`,
      _("%(count)s escalated", { count: report.police.escalated })],
    ...(report.kind === "month" ? [["Uptime, all units", _("Uptime, all units"), pct(uptime, 2), compare("uptime", (v) => pct(v, 2))]] : []),
    ["Cost per genuine activation", _("Cost per genuine activation"), money(report.costs.cost_per_genuine),
      `${rolling(report.costs)}: ${money(report.costs.rolling_12_months_cost_per_genuine)}`],
  ];
  $("report-figures").replaceChildren(...items.map(([key, label, value, note]) => {
    const box = el("div", { className: "figure", "data-figure": key });
    box.append(el("div", { className: "value" }, value), el("div", { className: "label" }, label));
    if (note) box.append(el("div", { className: "note" }, note));
    return box;
  }));
}

/** A number of seconds to a tenth, as a reader wants it (the JSON keeps the microseconds). */
const tenths = (v) => (v === null || v === undefined ? _("n/a") : v.toFixed(1));

function render(report) {
  current = report;
  figures(report);
  const times = report.answer_times;
  $("answer-note").textContent = _(
    "From the press to an operator accepting it, against %(targets)s. An activation never answered fails every target. Median %(median)s s, 90th percentile %(p90)s s (answered ones).",
    { targets: times.targets_label, median: tenths(times.median_seconds), p90: tenths(times.p90_seconds) });
  fillTable($("answer-table"), [_("Target"), _("Of all activations"), _("Of answered only"), _("Verdict")], times.targets.map((t) => [
    _("%(target)s%% within %(seconds)s s", { target: t.target * 100, seconds: t.within_seconds }),
    `${pct(t.share)} (${_("%(count)s of %(total)s", { count: t.answered_within, total: times.activations })})`, pct(t.share_of_answered), verdict(t.met),
  ]));
  fillTable($("unanswered-table"), [_("Opened"), _("Unit")], times.never_answered.map((u) => [
    new Date(u.opened_at).toLocaleString("en-GB", { timeZone: report.timezone, dateStyle: "medium", timeStyle: "short" }), unitName(u.unit_id),
  
  ]), [], _("None: every activation was answered."));
  const police = report.police;
  fillTable($("police-table"), ["", _("Count")], [
    [_("Escalated (all)"), police.escalated],
    [_("Police called"), police.police_called],
    [_("Police acknowledged (log/CAD reference)"), police.police_acknowledged],
    [_("Police attended (officers on scene)"), police.police_attended],
    [_("Median minutes from the call to on scene"), police.median_minutes_to_attend ?? _("n/a")],
    [_("Medical escalations without the police"), police.medical_without_police],
    [_("Other escalations without the police"), police.other_without_police],
  ], [1]);
  hbars($("chart-units"), Object.entries(report.by_unit).map(([id, value]) => ({ label: unitName(id), value })));
  hbars($("chart-zones"), Object.entries(report.by_zone).map(([label, value]) => ({ label, value })));
  const colours = { genuine: "#3fb950", false: "#ff7b72", technical: "#d29922", unknown: "#8b949e", unclassified: "#6e7681" };
  hbars($("chart-categories"), Object.entries(report.by_category).map(([label, value]) => ({ label, value, colour: colours[label] })));
  heatmap($("chart-heatmap"));
  fillTable($("false-table"), [_("Unit"), _("Accidental"), _("Malicious"), _("Test"), _("All false")], Object.entries(report.false_by_unit).map(([id, c]) => [
    unitName(id), c.false_accidental, c.false_malicious, c.false_test, c.false_accidental + c.false_malicious + c.false_test,
  ]), [1, 2, 3, 4]);
  const trend = report.trend;
  if (trend) {
    trendChart($("chart-trend"), trend.months);
    const targets = times.targets.map((t) => String(t.within_seconds));
    const rows = trend.months.map((m) => [m.label, m]);
    if (trend.last_year) rows.push([report.kind === "month"
      ? _("Same month last year (%(label)s)", { label: trend.last_year.label })
      : _("Previous year (%(label)s)", { label: trend.last_year.label }), trend.last_year]);
    if (trend.year_to_date) rows.push([_("Year to date (%(label)s)", { label: trend.year_to_date.label }), trend.year_to_date]);
    const trendHeader = [_("Month"), _("Activations"), _("Genuine"), _("False"), _("Malicious"), _("Unanswered"), _("Median answer"),
      ...targets.map((s) => _("Within %(seconds)s s", { seconds: s })), _("Uptime")];
    fillTable($("trend-table"), trendHeader, rows.map(([label, m]) => [
      label, count(m.activations), count(m.genuine), count(m.false), count(m.malicious), count(m.unanswered), seconds(m.median_answer_seconds), ...targets.map((s) => pct(m.answered_within[s])), pct(m.uptime, 2),
    ]), [1, 2, 3, 4, 5, 6, ...targets.map((s, i) => 7 + i), 7 + targets.length]);
  }
  fillTable($("uptime-table"), [_("Unit"), _("Uptime"), _("Down (h)"), _("Supervised (h)")], report.uptime.map((u) => [
    unitName(u.unit_id), pct(u.share, 2), (u.down_seconds / 3600).toFixed(1), (u.supervised_seconds / 3600).toFixed(0),
  ]), [1, 2, 3], _("No units."));
  const costs = report.costs;
  const year = report.kind === "year";
  fillTable($("costs-table"), ["", _("Value")], [
    [_("Inputs"), costs.inputs],
    [year ? _("Cost of the year") : _("Cost of the month"), money(costs.period_cost)],
    [year ? _("Per genuine activation, this year") : _("Per genuine activation, this month"), money(costs.cost_per_genuine)],
    [_("Per genuine activation, %(period)s", { period: rolling(costs) }), money(costs.rolling_12_months_cost_per_genuine)],
  ]);
  renderInterventions(report.interventions);
  renderSurvey(report.survey);
  $("report-notes").textContent = report.notes.join(" ");
  $("report-status").textContent = _("%(label)s: %(count)s activations (%(zone)s)",
    { label: report.label, count: report.activations, zone: report.timezone });
}

// As computed (to 3 decimals): rounding again would move an interval's end.
const mean = (s) => (s.mean === null ? _("n/a") : `${s.mean}${s.mean_low === null ? "" : ` (${s.mean_low}-${s.mean_high})`}`);
const safe = (s) => (s.safe_share === null ? _("n/a") : `${pct(s.safe_share)} (${pct(s.safe_low)}-${pct(s.safe_high)})`);

/** The public survey's answers in the period, with 95% intervals (docs/survey.md). */
function renderSurvey(survey) {
  const rows = [];
  if (survey && survey.overall.n) {
    const add = (group, label, s) => rows.push([group, label, s.n, mean(s), safe(s)]);
    add(_("All"), _("All answers"), survey.overall);
    add(_("Installation"), _("Before installation"), survey.before_after.before);
    add(_("Installation"), _("After installation"), survey.before_after.after);
    for (const [id, s] of Object.entries(survey.by_unit)) add(_("Unit"), unitName(id), s);
    for (const [zone, s] of Object.entries(survey.by_zone)) add(_("Zone"), zone, s);
    for (const [hour, s] of Object.entries(survey.by_hour)) add(_("Hour"), `${hour}:00`, s);
  }
  fillTable($("survey-table"), [_("By"), "", _("Answers"), _("Mean feeling, 1-5 (95%)"), _("Feeling safe, 4-5 (95%)")], rows, [2],
    _("No answers in this period."));
}

function renderInterventions(items) {
  const table = $("interventions-table");
  fillTable(table, [_("Unit"), _("Date"), _("What"), _("False before / after"), _("Malicious before / after"), ""], items.map((i) => [
    unitName(i.unit_id), i.on, i.what, `${i.false_before} / ${i.false_after}${i.complete ? "" : ` ${_("(so far)")}`}`, `${i.malicious_before} / ${i.malicious_after}`, "",
  ]), [], _("None recorded in or just before this period."));
  items.forEach((item, index) => {
    const cell = table.tBodies[0].rows[index].cells[5];
    const remove = el("button", { type: "button" }, _("Remove"));
    remove.addEventListener("click", async () => {
      await api(`/api/reports/interventions/${item.id}`, { method: "DELETE" });
      show();
    });
    cell.append(remove);
  });
}

function period() {
  return $("report-kind").value === "year" ? { year: $("report-year").value } : { month: $("report-month").value };
}

function query() {
  return new URLSearchParams({
    ...period(),
    capital: $("report-capital").value || "0",
    capital_months: $("report-capital-months").value || "1",
    monitoring: $("report-monitoring").value || "0",
  }).toString();
}

async function show() {
  const q = query();
  $("report-pdf").href = `/api/reports/monthly.pdf?${q}`;
  $("report-csv").href = `/api/reports/monthly.csv?${q}`;
  const last = $("report-kind").value === "year" ? `${$("report-year").value}-12` : $("report-month").value;
  const [year, month] = last.split("-").map(Number);
  const from = new Date(Date.UTC(year, month - 12, 1)).toISOString().slice(0, 7);
  $("report-open-data").href = `/api/reports/open-data.csv?from=${from}&to=${last}`;
  $("report-status").textContent = _("Loading…");
  try {
    render(await api(`/api/reports/monthly?${q}`));
  } catch (error) {
    $("report-status").textContent = _("Could not load the report: %(error)s", { error: error.message });
  }
}

async function loadSettings() {
  const stored = await api("/api/reports/settings");
  $("report-scheme").textContent = `· ${stored.scheme_name}`;
  $("report-scheme-name").value = stored.scheme_name;
  $("report-capital").value = stored.capital;
  $("report-capital-months").value = stored.capital_months;
  $("report-monitoring").value = stored.monitoring_per_month;
}

$("report-save-costs").addEventListener("click", async () => {
  try {
    await api("/api/reports/settings", {
      method: "PUT",
      body: {
        scheme_name: $("report-scheme-name").value,
        capital: Number($("report-capital").value),
        capital_months: Number($("report-capital-months").value),
        monitoring_per_month: Number($("report-monitoring").value),
      },
    });
    await loadSettings();
    $("report-status").textContent = _("Saved: every report uses these costs now.");
    show();
  } catch (error) {
    $("report-status").textContent = _("Not saved: %(error)s", { error: error.message });
  }
});

$("intervention-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api("/api/reports/interventions", {
      method: "POST",
      body: { unit_id: $("intervention-unit").value, on: $("intervention-on").value, what: $("intervention-what").value },
    });
    $("intervention-what").value = "";
    show();
  } catch (error) {
    $("report-status").textContent = _("Not recorded: %(error)s", { error: error.message });
  }
});

for (const radio of document.querySelectorAll('input[name="heat"]')) {
  radio.addEventListener("change", () => {
    heatKind = radio.value;
    tip.textContent = _("Hover or focus a cell for its count.");
    if (current) heatmap($("chart-heatmap"));
  });
}

$("report-kind").addEventListener("change", () => {
  const year = $("report-kind").value === "year";
  $("report-month-label").hidden = year;
  $("report-year-label").hidden = !year;
});

const params = new URLSearchParams(location.search);
const previous = new Date();
previous.setUTCDate(1);
previous.setUTCMonth(previous.getUTCMonth() - 1);
$("report-month").value = params.get("month") || previous.toISOString().slice(0, 7);
$("report-year").value = params.get("year") || String(previous.getUTCFullYear());
if (params.get("year")) {
  $("report-kind").value = "year";
  $("report-kind").dispatchEvent(new Event("change"));
}
$("report-form").addEventListener("submit", (event) => { event.preventDefault(); show(); });
// The unit list for interventions comes with the report (its names); the form starts from
// the scheme's stored cost inputs, and changing one is a what-if until saved.
loadSettings().catch(() => {}).finally(async () => {
  await show();
  if (current) {
    $("intervention-unit").replaceChildren(...Object.keys(current.by_unit).map((id) => el("option", { value: id }, unitName(id))));
  }
});
