// Scheme report dashboard: fetches /api/reports/monthly and shows the same figures as the PDF
// (docs/reports.md) as tables, labelled bars (every value written beside its bar, so 3 next to
// 348 stays readable), a heatmap with axes and a legend, and trend lines. No chart library.
import { api } from "/static/api.js";

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

const pct = (v, digits = 1) => (v === null || v === undefined ? "no data" : `${(v * 100).toFixed(digits)}%`);
const money = (v) => (v === null ? "n/a" : `£${v.toLocaleString("en-GB", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`);
// A count is null for a period before the scheme ran: "no data", not 0.
const count = (v) => (v === null || v === undefined ? "no data" : v.toLocaleString("en-GB"));
const seconds = (v) => (v === null || v === undefined ? "no data" : `${v.toFixed(1)} s`);
const rolling = (costs) => (costs.rolling_months === null || costs.rolling_months >= 12 ? "last 12 months" : `the ${costs.rolling_months} month${costs.rolling_months === 1 ? "" : "s"} the scheme has run`);
const unitName = (id) => (current.unit_names[id] ? `${id} ${current.unit_names[id]}` : id);
const verdict = (met) => (met === null ? "n/a" : met ? "met" : "NOT met");

/** Fills a table: a header row, then rows; columns in `numeric` are right-aligned. */
function fillTable(target, header, rows, numeric = [], empty = "None.") {
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

const HEAT = { all: ["heatmap", "activations", "#58a6ff"], false: ["false_heatmap", "false activations", "#ff7b72"], malicious: ["malicious_heatmap", "malicious activations", "#d2a8ff"] };

/** Day × hour cells with the days and hours as axes, counts in non-empty cells, a legend. */
function heatmap(target) {
  const [key, noun, colour] = HEAT[heatKind];
  const counts = key === "heatmap" ? current.heatmap.counts : current[key];
  const days = current.heatmap.days;
  const max = Math.max(1, ...counts.flat());
  const chart = svg("svg", { viewBox: "0 0 560 215", "data-chart": "heatmap", role: "group", "aria-label": `${noun} by hour of the week` });
  const cellW = 21;
  days.forEach((day, d) => {
    chart.append(svg("text", { x: 30, y: d * 22 + 27, "font-size": 12, fill: "currentColor", "text-anchor": "end" }, day));
    counts[d].forEach((value, h) => {
      const x = 36 + h * cellW;
      const y = d * 22 + 12;
      const cell = svg("rect", { x, y, width: cellW - 2, height: 20, fill: colour, "fill-opacity": value ? 0.2 + 0.8 * (value / max) : 0.06, "data-value": value });
      const text = `${day} ${String(h).padStart(2, "0")}:00: ${value} ${noun.replace(/s$/, value === 1 ? "" : "s")}`;
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
  chart.append(svg("text", { x: 288, y: 190, "font-size": 11, "text-anchor": "middle", fill: "currentColor" }, `hour of day (${current.timezone})`));
  // Legend: five steps from 0 to the busiest cell.
  chart.append(svg("text", { x: 36, y: 208, "font-size": 11, fill: "currentColor" }, noun + ":"));
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
  const series = [["activations", "#58a6ff"], ["genuine", "#3fb950"]];
  const max = Math.max(1, ...months.map((m) => m.activations));
  const x = (i) => left + (i * (width - left - 20)) / Math.max(1, months.length - 1);
  const y = (v) => bottom - (v / max) * (bottom - 20);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, "data-chart": "trend", role: "img", "aria-label": "Activations and genuine, month by month" });
  for (const tick of [0, max / 2, max]) {
    chart.append(svg("line", { x1: left, x2: width - 10, y1: y(tick), y2: y(tick), stroke: "currentColor", "stroke-opacity": 0.15 }));
    chart.append(svg("text", { x: left - 4, y: y(tick) + 4, "font-size": 11, "text-anchor": "end", fill: "currentColor" }, String(Math.round(tick))));
  }
  months.forEach((m, i) => {
    if (i % 2 === months.length % 2 || i === months.length - 1) {
      chart.append(svg("text", { x: x(i), y: bottom + 16, "font-size": 10, "text-anchor": "middle", fill: "currentColor" }, m.label.slice(2)));
    }
  });
  series.forEach(([key, colour], s) => {
    // Months before the scheme ran have no data: left out of the line, not drawn as 0.
    const known = months.map((m, i) => [m, i]).filter(([m]) => m[key] !== null);
    const points = known.map(([m, i]) => `${x(i)},${y(m[key])}`).join(" ");
    chart.append(svg("polyline", { points, fill: "none", stroke: colour, "stroke-width": 2 }));
    const last = months[months.length - 1];
    if (last[key] !== null) chart.append(svg("text", { x: x(months.length - 1) - 4, y: y(last[key]) - 6, "font-size": 11, "text-anchor": "end", fill: colour }, `${key} ${last[key]}`));
    chart.append(svg("rect", { x: left + 10 + s * 110, y: 178, width: 12, height: 4, fill: colour }));
    chart.append(svg("text", { x: left + 26 + s * 110, y: 184, "font-size": 11, fill: "currentColor" }, key));
  });
  target.replaceChildren(chart);
}

function figures(report) {
  const trend = report.trend || {};
  const previous = trend.previous;
  const lastYear = trend.last_year;
  const compare = (key, format = count) => {
    const parts = [];
    if (previous) parts.push(`previous ${format(previous[key])}`);
    if (lastYear) parts.push(`last year ${format(lastYear[key])}`);
    return parts.join(" · ");
  };
  const months = trend.months || [];
  const uptime = report.kind === "month" && months.length ? months[months.length - 1].uptime : null;
  const items = [
    ["Activations", count(report.activations), compare("activations")],
    ["Genuine", count(report.by_category.genuine), compare("genuine")],
    ["False (malicious)", `${count(report.by_category.false)} (${count(report.false_categories.false_malicious)})`, compare("false")],
    ...report.answer_times.targets.map((t) => [
      `Answered within ${t.within_seconds} s (target ${t.target * 100}%)`,
      `${pct(t.share)} ${verdict(t.met)}`,
      [previous && `previous ${pct(previous.answered_within[String(t.within_seconds)])}`, lastYear && `last year ${pct(lastYear.answered_within[String(t.within_seconds)])}`].filter(Boolean).join(" · "),
    ]),
    ["Never answered", count(report.answer_times.unanswered), compare("unanswered")],
    ["Police called / attended", `${report.police.police_called} / ${report.police.police_attended}`, `${report.police.escalated} escalated`],
    ...(report.kind === "month" ? [["Uptime, all units", pct(uptime, 2), compare("uptime", (v) => pct(v, 2))]] : []),
    ["Cost per genuine activation", money(report.costs.cost_per_genuine), `${rolling(report.costs)}: ${money(report.costs.rolling_12_months_cost_per_genuine)}`],
  ];
  $("report-figures").replaceChildren(...items.map(([label, value, note]) => {
    const box = el("div", { className: "figure", "data-figure": label });
    box.append(el("div", { className: "value" }, value), el("div", { className: "label" }, label));
    if (note) box.append(el("div", { className: "note" }, note));
    return box;
  }));
}

function render(report) {
  current = report;
  figures(report);
  const times = report.answer_times;
  $("answer-note").textContent = `From the press to an operator accepting it, against ${times.targets_label}. An activation never answered fails every target. Median ${times.median_seconds ?? "n/a"} s, 90th percentile ${times.p90_seconds ?? "n/a"} s (answered ones).`;
  fillTable($("answer-table"), ["Target", "Of all activations", "Of answered only", "Verdict"], times.targets.map((t) => [
    `${t.target * 100}% within ${t.within_seconds} s`, `${pct(t.share)} (${t.answered_within} of ${times.activations})`, pct(t.share_of_answered), verdict(t.met),
  ]));
  fillTable($("unanswered-table"), ["Opened", "Unit"], times.never_answered.map((u) => [
    new Date(u.opened_at).toLocaleString("en-GB", { timeZone: report.timezone, dateStyle: "medium", timeStyle: "short" }), unitName(u.unit_id),
  ]), [], "None: every activation was answered.");
  const police = report.police;
  fillTable($("police-table"), ["", "Count"], [
    ["Escalated (all)", police.escalated],
    ["Police called", police.police_called],
    ["Police acknowledged (log/CAD reference)", police.police_acknowledged],
    ["Police attended (officers on scene)", police.police_attended],
    ["Median minutes from the call to on scene", police.median_minutes_to_attend ?? "n/a"],
    ["Medical escalations without the police", police.medical_without_police],
    ["Other escalations without the police", police.other_without_police],
  ], [1]);
  hbars($("chart-units"), Object.entries(report.by_unit).map(([id, value]) => ({ label: unitName(id), value })));
  hbars($("chart-zones"), Object.entries(report.by_zone).map(([label, value]) => ({ label, value })));
  const colours = { genuine: "#3fb950", false: "#ff7b72", technical: "#d29922", unknown: "#8b949e", unclassified: "#6e7681" };
  hbars($("chart-categories"), Object.entries(report.by_category).map(([label, value]) => ({ label, value, colour: colours[label] })));
  heatmap($("chart-heatmap"));
  fillTable($("false-table"), ["Unit", "Accidental", "Malicious", "Test", "All false"], Object.entries(report.false_by_unit).map(([id, c]) => [
    unitName(id), c.false_accidental, c.false_malicious, c.false_test, c.false_accidental + c.false_malicious + c.false_test,
  ]), [1, 2, 3, 4]);
  const trend = report.trend;
  if (trend) {
    trendChart($("chart-trend"), trend.months);
    const targets = times.targets.map((t) => String(t.within_seconds));
    const rows = trend.months.map((m) => [m.label, m]);
    if (trend.last_year) rows.push([report.kind === "month" ? `Same month last year (${trend.last_year.label})` : `Previous year (${trend.last_year.label})`, trend.last_year]);
    if (trend.year_to_date) rows.push([`Year to date (${trend.year_to_date.label})`, trend.year_to_date]);
    fillTable($("trend-table"), ["Month", "Activations", "Genuine", "False", "Malicious", "Unanswered", "Median answer", ...targets.map((s) => `Within ${s} s`), "Uptime"], rows.map(([label, m]) => [
      label, count(m.activations), count(m.genuine), count(m.false), count(m.malicious), count(m.unanswered), seconds(m.median_answer_seconds), ...targets.map((s) => pct(m.answered_within[s])), pct(m.uptime, 2),
    ]), [1, 2, 3, 4, 5, 6, ...targets.map((_, i) => 7 + i), 7 + targets.length]);
  }
  fillTable($("uptime-table"), ["Unit", "Uptime", "Down (h)", "Supervised (h)"], report.uptime.map((u) => [
    unitName(u.unit_id), pct(u.share, 2), (u.down_seconds / 3600).toFixed(1), (u.supervised_seconds / 3600).toFixed(0),
  ]), [1, 2, 3], "No units.");
  const costs = report.costs;
  fillTable($("costs-table"), ["", "Value"], [
    ["Inputs", costs.inputs],
    [`Cost of the ${report.kind}`, money(costs.period_cost)],
    [`Per genuine activation, this ${report.kind}`, money(costs.cost_per_genuine)],
    [`Per genuine activation, ${rolling(costs)}`, money(costs.rolling_12_months_cost_per_genuine)],
  ]);
  renderInterventions(report.interventions);
  renderSurvey(report.survey);
  $("report-notes").textContent = report.notes.join(" ");
  $("report-status").textContent = `${report.label}: ${report.activations} activations (${report.timezone})`;
}

// As computed (to 3 decimals): rounding again would move an interval's end.
const mean = (s) => (s.mean === null ? "n/a" : `${s.mean}${s.mean_low === null ? "" : ` (${s.mean_low}-${s.mean_high})`}`);
const safe = (s) => (s.safe_share === null ? "n/a" : `${pct(s.safe_share)} (${pct(s.safe_low)}-${pct(s.safe_high)})`);

/** The public survey's answers in the period, with 95% intervals (docs/survey.md). */
function renderSurvey(survey) {
  const rows = [];
  if (survey && survey.overall.n) {
    const add = (group, label, s) => rows.push([group, label, s.n, mean(s), safe(s)]);
    add("All", "All answers", survey.overall);
    for (const phase of ["before", "after"]) add("Installation", `${phase[0].toUpperCase()}${phase.slice(1)} installation`, survey.before_after[phase]);
    for (const [id, s] of Object.entries(survey.by_unit)) add("Unit", unitName(id), s);
    for (const [zone, s] of Object.entries(survey.by_zone)) add("Zone", zone, s);
    for (const [hour, s] of Object.entries(survey.by_hour)) add("Hour", `${hour}:00`, s);
  }
  fillTable($("survey-table"), ["By", "", "Answers", "Mean feeling, 1-5 (95%)", "Feeling safe, 4-5 (95%)"], rows, [2], "No answers in this period.");
}

function renderInterventions(items) {
  const table = $("interventions-table");
  fillTable(table, ["Unit", "Date", "What", "False before / after", "Malicious before / after", ""], items.map((i) => [
    unitName(i.unit_id), i.on, i.what, `${i.false_before} / ${i.false_after}${i.complete ? "" : " (so far)"}`, `${i.malicious_before} / ${i.malicious_after}`, "",
  ]), [], "None recorded in or just before this period.");
  items.forEach((item, index) => {
    const cell = table.tBodies[0].rows[index].cells[5];
    const remove = el("button", { type: "button" }, "Remove");
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
  $("report-status").textContent = "Loading…";
  try {
    render(await api(`/api/reports/monthly?${q}`));
  } catch (error) {
    $("report-status").textContent = `Could not load the report: ${error.message}`;
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
    $("report-status").textContent = "Saved: every report uses these costs now.";
    show();
  } catch (error) {
    $("report-status").textContent = `Not saved: ${error.message}`;
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
    $("report-status").textContent = `Not recorded: ${error.message}`;
  }
});

for (const radio of document.querySelectorAll('input[name="heat"]')) {
  radio.addEventListener("change", () => {
    heatKind = radio.value;
    tip.textContent = "Hover or focus a cell for its count.";
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
