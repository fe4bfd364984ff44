// Scheme report dashboard: fetches /api/reports/monthly and draws interactive SVG charts
// (hover or focus a bar or cell for its figure), with no chart library and no CDN.
import { api } from "/static/api.js";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const tip = $("chart-tip");

function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

function interactive(el, text) {
  el.setAttribute("tabindex", "0");
  el.setAttribute("role", "img");
  el.setAttribute("aria-label", text);
  const title = svg("title");
  title.textContent = text;
  el.append(title);
  const show = () => { tip.textContent = text; };
  el.addEventListener("mouseenter", show);
  el.addEventListener("focus", show);
}

function barChart(target, counts, colour = "#58a6ff") {
  const entries = Object.entries(counts);
  const max = Math.max(1, ...entries.map(([, v]) => v));
  const width = 60 * Math.max(entries.length, 1);
  const chart = svg("svg", { viewBox: `0 0 ${width} 180`, "data-chart": "bars" });
  entries.forEach(([label, value], i) => {
    const h = (value / max) * 140;
    const bar = svg("rect", { x: i * 60 + 10, y: 150 - h, width: 40, height: Math.max(h, 1), fill: colour, "data-label": label, "data-value": value });
    interactive(bar, `${label}: ${value}`);
    const text = svg("text", { x: i * 60 + 30, y: 168, "text-anchor": "middle", "font-size": 11, fill: "currentColor" });
    text.textContent = label;
    chart.append(bar, text);
  });
  target.replaceChildren(chart);
}

function heatmap(target, heat) {
  const max = Math.max(1, ...heat.counts.flat());
  const chart = svg("svg", { viewBox: "0 0 540 170", "data-chart": "heatmap" });
  heat.days.forEach((day, d) => {
    const label = svg("text", { x: 0, y: d * 20 + 24, "font-size": 11, fill: "currentColor" });
    label.textContent = day;
    chart.append(label);
    heat.counts[d].forEach((value, h) => {
      const cell = svg("rect", { x: 36 + h * 21, y: d * 20 + 10, width: 19, height: 18, fill: "#58a6ff", "fill-opacity": value ? 0.15 + 0.85 * (value / max) : 0.05, "data-value": value });
      interactive(cell, `${day} ${String(h).padStart(2, "0")}:00: ${value} activation${value === 1 ? "" : "s"}`);
      chart.append(cell);
    });
  });
  for (let h = 0; h < 24; h += 3) {
    const label = svg("text", { x: 36 + h * 21, y: 165, "font-size": 10, fill: "currentColor" });
    label.textContent = String(h).padStart(2, "0");
    chart.append(label);
  }
  target.replaceChildren(chart);
}

const pct = (v) => (v === null ? "n/a" : `${(v * 100).toFixed(1)}%`);
const money = (v) => (v === null ? "n/a" : `£${v.toFixed(2)}`);

function figures(report) {
  const items = [
    ["Activations", report.activations],
    ["Genuine share", pct(report.genuine_share)],
    ["False share", pct(report.false_share)],
    ["Police called / attended", `${report.police.police_called} / ${report.police.police_attended}`],
    ...report.answer_times.targets.map((t) => [
      `Answered within ${t.within_seconds} s (target ${t.target * 100}%)`,
      `${pct(t.share)} ${t.met === null ? "" : t.met ? "met" : "not met"}`,
    ]),
    ["Cost per genuine activation", money(report.costs.cost_per_genuine)],
  ];
  $("report-figures").replaceChildren(...items.map(([label, value]) => {
    const box = document.createElement("div");
    box.className = "figure";
    const v = document.createElement("div");
    v.className = "value";
    v.textContent = value;
    const l = document.createElement("div");
    l.textContent = label;
    box.append(v, l);
    box.dataset.figure = label;
    return box;
  }));
}

function query() {
  const params = new URLSearchParams({
    month: $("report-month").value,
    capital: $("report-capital").value || "0",
    capital_months: $("report-capital-months").value || "1",
    monitoring: $("report-monitoring").value || "0",
  });
  return params.toString();
}

async function show() {
  const q = query();
  $("report-pdf").href = `/api/reports/monthly.pdf?${q}`;
  $("report-csv").href = `/api/reports/monthly.csv?${q}`;
  const [year, month] = $("report-month").value.split("-").map(Number);
  const from = new Date(Date.UTC(year, month - 12, 1)).toISOString().slice(0, 7);
  $("report-open-data").href = `/api/reports/open-data.csv?from=${from}&to=${$("report-month").value}`;
  $("report-status").textContent = "Loading…";
  try {
    const report = await api(`/api/reports/monthly?${q}`);
    figures(report);
    barChart($("chart-units"), report.by_unit);
    heatmap($("chart-heatmap"), report.heatmap);
    barChart($("chart-categories"), report.by_category, "#d29922");
    $("uptime-rows").replaceChildren(...report.uptime.map((u) => {
      const row = document.createElement("tr");
      const unit = document.createElement("td");
      unit.textContent = u.unit_id;
      const share = document.createElement("td");
      share.textContent = u.share === null ? "no data" : pct(u.share);
      row.append(unit, share);
      return row;
    }));
    if (!report.uptime.length) {
      const none = document.createElement("tr");
      none.className = "none-yet";
      const cell = document.createElement("td");
      cell.colSpan = 2;
      cell.textContent = "No units in service yet.";
      none.append(cell);
      $("uptime-rows").append(none);
    }
    $("report-notes").textContent = report.notes.join(" ");
    $("report-status").textContent = `${report.month}: ${report.activations} activations (${report.timezone})`;
  } catch (error) {
    $("report-status").textContent = `Could not load the report: ${error.message}`;
  }
}

const previous = new Date();
previous.setUTCDate(1);
previous.setUTCMonth(previous.getUTCMonth() - 1);
$("report-month").value = new URLSearchParams(location.search).get("month") || previous.toISOString().slice(0, 7);
$("report-form").addEventListener("submit", (event) => { event.preventDefault(); show(); });
// The form starts from the scheme's stored cost inputs; changing them is a what-if.
api("/api/reports/settings").then((stored) => {
  $("report-capital").value = stored.capital;
  $("report-capital-months").value = stored.capital_months;
  $("report-monitoring").value = stored.monitoring_per_month;
}).catch(() => {}).finally(show);
